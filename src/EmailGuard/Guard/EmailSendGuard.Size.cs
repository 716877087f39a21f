using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The answer to a message that needs more counters than one atomic store call takes. Startup validation keeps the
/// configured rules within the bound (<see cref="SendGuardCapacityValidator"/>); a tenant's own rules from the
/// <see cref="ITenantLimitProvider"/> can still exceed it, and that is a denial, never an exception.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private EmailSendDecision TooLargeForRules(OutboundEmail message, int recipients, int messageWide, int perRecipient)
    {
        int fitting = perRecipient == 0 ? 0 : Math.Max(0, (RateLimitValidation.MaxRequestsPerCall - messageWide) / perRecipient);
        LogTooLargeForRules(_logger, recipients, messageWide, perRecipient, fitting, RateLimitValidation.MaxRequestsPerCall, message.TenantId);
        return Refuse(message, EmailSendReason.TooManyRecipients, EmailGuardDimension.Recipient, null, null, null, string.Create(CultureInfo.InvariantCulture,
            $"The message has {recipients} recipients; with the rules that apply ({messageWide} per message, {perRecipient} per recipient) at most {fitting} fit one check."));
    }

    [LoggerMessage(EventId = 1100, EventName = "SendTooLargeForRules", Level = LogLevel.Warning,
        Message = "Send denied: {Recipients} recipients under {MessageWideRules} message-wide and {PerRecipientRules} per-recipient rules need more than the {MaxCounters} counters one check takes; at most {Fitting} recipients fit; tenant {TenantId}. Check the tenant's rules from the ITenantLimitProvider.")]
    private static partial void WriteTooLargeForRules(ILogger logger, int recipients, int messageWideRules, int perRecipientRules, int fitting, int maxCounters, string tenantId);

    private static void LogTooLargeForRules(ILogger logger, int recipients, int messageWideRules, int perRecipientRules, int fitting, int maxCounters, string? tenantId)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            WriteTooLargeForRules(logger, recipients, messageWideRules, perRecipientRules, fitting, maxCounters, LogValue.Of(tenantId) ?? None);
        }
    }
}
