using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns once the app has started when feedback webhooks are enabled and <c>MapEmailGuardFeedback</c> was never
/// called: the providers' posts then answer 404, nothing in the app fails, and the providers drop the bounces and
/// complaints after their retries, so no address is suppressed and no ratio breaker ever trips.
/// </summary>
internal sealed partial class WebhookMappingCheck(
    WebhookMapping mapping,
    IOptions<EmailGuardWebhookOptions> options,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : StartedCheck(lifetime)
{
    protected override void Check()
    {
        if (mapping.Mapped)
        {
            return;
        }

        EmailGuardWebhookOptions webhooks = options.Value;
        string[] enabled =
        [
            .. new (bool Enabled, string Name)[]
            {
                (webhooks.Ses.Enabled, "ses"),
                (webhooks.Mailgun.Enabled, "mailgun"),
                (webhooks.SendGrid.Enabled, "sendgrid"),
                (webhooks.Postmark.Enabled, "postmark"),
            }.Where(p => p.Enabled).Select(p => p.Name),
        ];
        if (enabled.Length > 0)
        {
            LogNotMapped(loggers.CreateLogger("EmailGuard.AspNetCore.Feedback"), string.Join(", ", enabled));
        }
    }

    [LoggerMessage(EventId = 2974, EventName = "FeedbackWebhooksNotMapped", Level = LogLevel.Warning,
        Message = "EmailGuard feedback webhooks are enabled ({Providers}) but app.MapEmailGuardFeedback(...) was never called: the providers' posts answer 404 and their bounces and complaints are lost after the providers' retries. Map them, or turn the providers off under EmailGuard:Webhooks.")]
    private static partial void LogNotMapped(ILogger logger, string providers);
}
