namespace EmailGuard;

/// <summary>
/// The fair-share step of a check (<see cref="SendGuardOptions.FairShare"/>): before the plan is built, the tenant's
/// weight, its registration as active and this instance's view of the global budget are made current, so the plan
/// can carry the tenant's share into the one atomic acquire.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private readonly FairShareTracker? _fairShare;

    internal FairShareTracker? FairShare => _fairShare;

    /// <summary>
    /// Gets the key-value store where the fair share lists each window's active tenants, for the provider budget's view;
    /// set by the DI registration. Without it tenants are counted but not listed.
    /// </summary>
    internal IEmailGuardKeyValueStore? ActiveTenants
    {
        get => field;
        init
        {
            field = value;
            if (_fairShare is not null && value is not null)
            {
                _fairShare.Roster = new FairShareRoster(value, _store.Timeout, _timeProvider);
            }
        }
    }

    private ValueTask PrepareFairShare(OutboundEmail message, GuardPlan plan, bool commit, StoreTimeBudget budget, CancellationToken cancellationToken)
        => _fairShare is not null && message.TenantId is { } tenant && (plan.Skip & EmailGuardDimension.Global) == 0
            ? _fairShare.PrepareAsync(tenant, commit, budget, cancellationToken)
            : default;

    private async ValueTask<EmailSendDecision> AcquireAfterFairShareAsync(
        ValueTask preparing, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, TenantLimitAnswer tenantLimits, GuardPlan plan, GuardOperation operation, CancellationToken cancellationToken)
    {
        try
        {
            await preparing.ConfigureAwait(false);
        }
        catch
        {
            buffers.Return();
            throw;
        }

        // Prepared now: the second call finds the view fresh (or the store failing, and retried later) and goes on
        // to the counters synchronously.
        buffers.KeysNowMs = _keys.NowMs();
        return await Acquire(message, buffers, sender, tenantLimits, plan, operation, cancellationToken).ConfigureAwait(false);
    }
}
