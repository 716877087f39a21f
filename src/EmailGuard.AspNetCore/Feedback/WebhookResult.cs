namespace EmailGuard.AspNetCore;

/// <summary>Either a refusal or a batch of verified events.</summary>
internal readonly struct WebhookResult
{
    private WebhookResult(WebhookRejection? rejection, WebhookBatch? batch)
    {
        Rejection = rejection;
        Batch = batch;
    }

    public WebhookRejection? Rejection { get; }

    public WebhookBatch? Batch { get; }

    public static implicit operator WebhookResult(WebhookRejection rejection) => new(rejection, null);

    public static implicit operator WebhookResult(WebhookBatch batch) => new(null, batch);
}
