namespace EmailGuard;

/// <summary>
/// The event raiser: calls the app's <see cref="EmailGuardEvents"/> callbacks after a committed check. A callback that
/// throws is logged, never passed on: the check has been decided already. Callbacks run through the bounded
/// <see cref="EmailGuardEventRunner"/>, so a slow one never delays a send.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private void RaiseNearLimit(Func<EmailGuardLimitArguments, ValueTask> callback, OutboundEmail message, EmailSendRuleUsage[] usage)
    {
        double threshold = _options.NearLimitThreshold;
        foreach (EmailSendRuleUsage rule in usage)
        {
            long mark = (long)Math.Ceiling(rule.Limit * threshold);
            long before = rule.Count - rule.Cost;
            if (before < mark && rule.Count >= mark)
            {
                LogNearLimit(_logger, rule.Dimension, rule.Count, rule.Limit, message.TenantId);
                _events.Run(callback, new EmailGuardLimitArguments(message, rule), nameof(EmailGuardEvents.OnNearLimit));
            }
        }
    }
}
