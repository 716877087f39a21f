namespace EmailGuard;

/// <summary>The fan-out step of a check: an admitted message's recipients counted as new or known to its party.</summary>
internal sealed partial class EmailSendGuard
{
    private FanOutMonitor? _fanOut;

    /// <summary>
    /// Gets the store that remembers whom each party has sent to, for <see cref="SendGuardOptions.FanOut"/>; set by the
    /// DI registration after <see cref="Flags"/>. Without flags, or with the option off, there is no fan-out step.
    /// </summary>
    internal IEmailGuardKeyValueStore? Recipients
    {
        get => field;
        init
        {
            field = value;
            _fanOut = value is null || _flags is null || _options.FanOut.NewRecipients <= 0
                ? null
                : new FanOutMonitor(_options.FanOut, _store, value, _flags, _keys.Addresses, _timeProvider, _logger);
        }
    }

    /// <summary>Adds the fan-out step to a commit's decision when it is on; the decision itself never changes. It waits within the check's store time budget.</summary>
    private ValueTask<EmailSendDecision> WithFanOut(OutboundEmail message, ValueTask<EmailSendDecision> pending, StoreTimeBudget budget)
        => _fanOut is null ? pending : FanOutAsync(_fanOut, message, pending, budget);

    private static async ValueTask<EmailSendDecision> FanOutAsync(FanOutMonitor fanOut, OutboundEmail message, ValueTask<EmailSendDecision> pending, StoreTimeBudget budget)
    {
        EmailSendDecision decision = await pending.ConfigureAwait(false);
        if (decision.IsAllowed)
        {
            await fanOut.RecordAsync(message, budget).ConfigureAwait(false);
        }

        return decision;
    }
}
