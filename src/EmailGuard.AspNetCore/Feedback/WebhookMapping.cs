namespace EmailGuard.AspNetCore;

/// <summary>Whether <c>MapEmailGuardFeedback</c> mapped the webhooks, for <see cref="WebhookMappingCheck"/>.</summary>
internal sealed class WebhookMapping
{
    private volatile bool _mapped;

    public bool Mapped
    {
        get => _mapped;
        set => _mapped = value;
    }
}
