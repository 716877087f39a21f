namespace EmailGuard;

/// <summary>
/// The event raiser: calls the app's <see cref="EmailGuardEvents"/> callbacks after a committed check. A callback that
/// throws is logged, never passed on: the check has been decided already.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private void RaiseNearLimit(Action<EmailGuardLimitEvent> callback, OutboundEmail message, EmailSendRuleUsage[] usage)
    {
        double threshold = _options.NearLimitThreshold;
        foreach (EmailSendRuleUsage rule in usage)
        {
            long mark = (long)Math.Ceiling(rule.Limit * threshold);
            long before = rule.Count - rule.Cost;
            if (before < mark && rule.Count >= mark)
            {
                LogNearLimit(_logger, rule.Dimension, rule.Count, rule.Limit, message.TenantId);
                Raise(callback, new EmailGuardLimitEvent(message, rule));
            }
        }
    }

    private void Raise(Action<EmailGuardLimitEvent> callback, EmailGuardLimitEvent limitEvent)
    {
        try
        {
            callback(limitEvent);
        }
        catch (Exception ex)
        {
            LogEventCallbackFailed(_logger, ex);
        }
    }
}
