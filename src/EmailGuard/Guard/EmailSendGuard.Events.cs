namespace EmailGuard;

/// <summary>
/// The event raiser: records the decision metric and calls the app's <see cref="EmailGuardEvents"/> callbacks after a
/// committed check or reservation. A callback that throws is logged, never passed on: the check has been decided
/// already. Callbacks run through the bounded <see cref="EmailGuardEventRunner"/>, so a slow one never delays a send.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private async ValueTask<EmailSendDecision> RecordAsync(OutboundEmail message, ValueTask<EmailSendDecision> pending)
    {
        EmailSendDecision decision = await pending.ConfigureAwait(false);
        Record(message, decision);
        return decision;
    }

    private void Record(OutboundEmail message, in EmailSendDecision decision)
    {
        _metrics?.RecordDecision(SendGuardMetricNames.Dimension(decision.Dimension), SendGuardMetricNames.Policy, SendGuardMetricNames.Outcome(decision.Reason));
        if (_options.Events.OnChecked is { } onChecked)
        {
            _events.Run(onChecked, new EmailGuardCheckArguments(message, decision), nameof(EmailGuardEvents.OnChecked));
        }
    }

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
