namespace EmailGuard.AspNetCore;

/// <summary>The enabled providers' routes, built once from the validated options.</summary>
internal sealed class WebhookEndpoints(IReadOnlyList<WebhookEndpoint> endpoints)
{
    public IReadOnlyList<WebhookEndpoint> Endpoints { get; } = endpoints;
}
