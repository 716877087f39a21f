using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns once the app has started when feedback webhooks are enabled and <c>MapEmailGuardFeedback</c> was never
/// called: the providers' posts then answer 404, nothing in the app fails, and the providers drop the bounces and
/// complaints after their retries, so no address is suppressed and no ratio breaker ever trips. Warns too when a
/// provider carries its key or credentials but is not enabled: its route is not mapped, with the same result, and a
/// key is the clearest sign the provider was meant to be on.
/// </summary>
internal sealed partial class WebhookMappingCheck(
    WebhookMapping mapping,
    IOptions<EmailGuardWebhookOptions> options,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : StartedCheck(lifetime)
{
    protected override void Check()
    {
        EmailGuardWebhookOptions webhooks = options.Value;
        string[] keyedButOff =
        [
            .. new (bool Keyed, bool Enabled, string Section)[]
            {
                (!string.IsNullOrEmpty(webhooks.Mailgun.SigningKey), webhooks.Mailgun.Enabled, "Mailgun"),
                (!string.IsNullOrEmpty(webhooks.SendGrid.PublicKey), webhooks.SendGrid.Enabled, "SendGrid"),
                (!string.IsNullOrEmpty(webhooks.Postmark.Username) || !string.IsNullOrEmpty(webhooks.Postmark.Password), webhooks.Postmark.Enabled, "Postmark"),
            }.Where(p => p.Keyed && !p.Enabled).Select(p => "EmailGuard:Webhooks:" + p.Section),
        ];
        if (keyedButOff.Length > 0)
        {
            LogKeyedButDisabled(loggers.CreateLogger("EmailGuard.AspNetCore.Feedback"), string.Join(", ", keyedButOff));
        }

        if (mapping.Mapped)
        {
            return;
        }

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

    [LoggerMessage(EventId = 2977, EventName = "FeedbackWebhookKeyedButDisabled", Level = LogLevel.Warning,
        Message = "{Sections} carry a webhook key or credentials but are not enabled: those providers' webhooks are not mapped, so their posts answer 404 and their bounces and complaints are lost after the providers' retries. Set Enabled to true under each, or remove the key.")]
    private static partial void LogKeyedButDisabled(ILogger logger, string sections);
}
