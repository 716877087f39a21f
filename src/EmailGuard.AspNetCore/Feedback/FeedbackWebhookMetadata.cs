namespace EmailGuard.AspNetCore;

/// <summary>
/// Marks EmailGuard's own feedback webhook routes, so that a wildcard or fallback path rule does not count them.
/// Providers post from a few addresses in bursts; a catch-all per-IP limit would answer them 429 until they drop the
/// bounces and complaints EmailGuard exists to read.
/// </summary>
internal sealed class FeedbackWebhookMetadata
{
    public static readonly FeedbackWebhookMetadata Instance = new();

    private FeedbackWebhookMetadata()
    {
    }
}
