using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// The counters' step of a check, in the order it runs: validate the message's parties, load the lists and flags,
/// screen, look up the tenant's limits, then take every rule in one acquire. Each step's logic is in its own type;
/// the pipeline that calls them reads here in one place.
/// </summary>
internal sealed partial class EmailSendGuard
{
    /// <remarks>
    /// The buffers go down the pipeline with the check: each step that is handed them (<see cref="Decide"/>,
    /// <see cref="Acquire"/>, <see cref="Complete"/>, and the asynchronous continuations) hands them back on every way
    /// out. No step wraps the next in a try/finally, so a synchronous decision (a struct of some 250 bytes) is written
    /// once and passed up through the return values instead of being copied at every step. Not inlined: inlined into
    /// <see cref="Steps"/>, the decision <see cref="Decide"/> returned went to a local of <see cref="Steps"/> (a 584-byte
    /// frame, 384 bytes of it zeroed on every check) and was copied from there into its return buffer, a 280-byte move
    /// with write barriers; called, it returns straight into the buffer its caller was handed.
    /// </remarks>
    /// <param name="message">The message.</param>
    /// <param name="operation">Check, reservation or peek.</param>
    /// <param name="budget">The check's store time budget when the steps after the counters share it; null for one of the buffers' own.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> EvaluateAsync(OutboundEmail message, GuardOperation operation, StoreTimeBudget? budget, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        int given = message.RecipientCount;
        if (given == 0)
        {
            return Refused(message, EmailSendReason.NoRecipients, EmailGuardDimension.Recipient, null, "The message has no recipient.");
        }

        int max = _options.MaxRecipientsPerMessage;
        if (given > 4 * max || given < 0)
        {
            return TooManyRecipientsNow(message, given);
        }

        if (GuardPartyIds.FindInvalid(message) is not EmailGuardDimension.None and EmailGuardDimension invalid)
        {
            return PartyIdInvalidNow(message, invalid);
        }

        GuardBuffers buffers = GuardBuffers.Rent();
        buffers.Caps = _caps;
        StoreTimeBudget checkBudget = buffers.StartBudget(budget, _store.Timeout, _timeProvider);

        // Environment.TickCount64 (see SendGuardKeys.NowMs): the state cache and the in-memory store take it too.
        long keysNow = _keys.NowMs();
        buffers.KeysNowMs = keysNow;
        buffers.EnsureRecipients(given);
        GuardPartyMemo parties = buffers.Parties.For(_keys);
        for (int i = 0; i < given; i++)
        {
            string? raw = message.GetRecipient(i);
            GuardAddress address = i == 0 ? _keys.Addresses.Get(raw, keysNow, ref parties.Recipient) : _keys.Addresses.Get(raw, keysNow);
            if (!address.IsValid)
            {
                buffers.Return();
                return Refused(message, EmailSendReason.InvalidAddress, EmailGuardDimension.Recipient, raw ?? string.Empty, address.Error);
            }

            // The first mail past the bound decides: the rest of a hostile list is not parsed.
            if (buffers.AddDelivery(address, raw!) && buffers.DeliveryCount > max)
            {
                buffers.Return();
                return TooManyRecipientsNow(message, given);
            }
        }

        GuardAddress? sender = null;
        if (message.Sender is { } rawSender)
        {
            sender = _keys.Addresses.Get(rawSender, keysNow, ref parties.Sender);
            if (!sender.IsValid)
            {
                buffers.Return();
                return Refused(message, EmailSendReason.InvalidAddress, EmailGuardDimension.Sender, rawSender, sender.Error);
            }
        }

        ValueTask<GuardStateSnapshot?> pendingState = _state.GetAsync(keysNow, checkBudget, cancellationToken);
        if (!pendingState.IsCompletedSuccessfully)
        {
            return DecideAfterStateAsync(pendingState, message, buffers, sender, operation, cancellationToken);
        }

        return Decide(message, buffers, sender, pendingState.Result, operation, cancellationToken);
    }

    private async ValueTask<EmailSendDecision> DecideAfterStateAsync(
        ValueTask<GuardStateSnapshot?> pendingState, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardOperation operation, CancellationToken cancellationToken)
    {
        GuardStateSnapshot? state;
        try
        {
            state = await pendingState.ConfigureAwait(false);
        }
        catch
        {
            buffers.Return();
            throw;
        }

        buffers.KeysNowMs = _keys.NowMs();

        return await Decide(message, buffers, sender, state, operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists and flags, then the counters. Synchronous unless the tenant limits or the store are not at hand. Takes
    /// <paramref name="buffers"/> and hands them back, synchronously or when the returned task completes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Decide(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardStateSnapshot? state, GuardOperation operation, CancellationToken cancellationToken)
    {
        if (state is null)
        {
            // Lists and flags were never loaded (the state store has not answered since startup): a blocklisted or
            // suspended party cannot be recognised, so the failure mode decides, as for the counters.
            if (_options.FailureMode == StoreFailureMode.FailClosed)
            {
                buffers.Return();
                return StateUnavailableNow(message);
            }

            state = GuardStateSnapshot.Empty;
        }

        string? tenant = message.TenantId;
        GuardPlan plan = new(EmailGuardDimension.None, null, 1, 1);
        if (state.HasBlocks || state.HasFlags || state.HasAllows)
        {
            DateTimeOffset now = _timeProvider.GetUtcNow();
            if (_screen.Screen(message, buffers.Recipients, buffers.RecipientCount, sender, state, now, out plan) is { } denial)
            {
                buffers.Return();
                return ScreenedOut(message, denial, now);
            }
        }

        // The tenant's rules and pool, from one provider answer; none looked up, a tenant has no rules and the default pool.
        // An allowlisted tenant skips its rules and its pool's, but its pool is looked up all the same: its sends count
        // in its pool's ratios, as its bounces come back and the provider rates them.
        TenantLimitAnswer tenantLimits = TenantLimitAnswer.None;
        SendGuardCaps caps = buffers.Caps;
        if (tenant is not null && ((plan.Skip & EmailGuardDimension.Tenant) == 0 ? caps.Rules.Tenant.Length != 0 || _tenantLimits.HasProvider : caps.Pools.Any && _tenantLimits.HasProvider))
        {
            ValueTask<TenantLimitAnswer> pending = _tenantLimits.GetAnswerAsync(tenant, caps.Rules.Tenant, buffers.Budget, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return AcquireAfterTenantLimitsAsync(pending, message, buffers, sender, plan, state, operation, cancellationToken);
            }

            tenantLimits = pending.Result;
        }

        if (caps.Pools.Any && state.HasFlags && tenant is not null && ScreenPool(caps.Pools, tenantLimits, state, ref plan) is { } poolDenial)
        {
            buffers.Return();
            return ScreenedOut(message, poolDenial, _timeProvider.GetUtcNow());
        }

        return Acquire(message, buffers, sender, tenantLimits, plan, operation, cancellationToken);
    }

    private async ValueTask<EmailSendDecision> AcquireAfterTenantLimitsAsync(
        ValueTask<TenantLimitAnswer> pending, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardPlan plan, GuardStateSnapshot state, GuardOperation operation,
        CancellationToken cancellationToken)
    {
        TenantLimitAnswer tenantLimits;
        try
        {
            tenantLimits = await pending.ConfigureAwait(false);
        }
        catch
        {
            buffers.Return();
            throw;
        }

        buffers.KeysNowMs = _keys.NowMs();
        if (buffers.Caps.Pools.Any && state.HasFlags && ScreenPool(buffers.Caps.Pools, tenantLimits, state, ref plan) is { } poolDenial)
        {
            buffers.Return();
            return await ScreenedOut(message, poolDenial, _timeProvider.GetUtcNow()).ConfigureAwait(false);
        }

        return await Acquire(message, buffers, sender, tenantLimits, plan, operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The counters: builds the plan of keys and takes them in one store call. Takes <paramref name="buffers"/> and hands them back.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Acquire(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, TenantLimitAnswer tenantLimits, GuardPlan plan, GuardOperation operation, CancellationToken cancellationToken)
    {
        ValueTask preparing = PrepareFairShare(message, plan, operation != GuardOperation.Peek, buffers.Budget, cancellationToken);
        if (!preparing.IsCompletedSuccessfully)
        {
            return AcquireAfterFairShareAsync(preparing, message, buffers, sender, tenantLimits, plan, operation, cancellationToken);
        }

        if (!_plans.TryBuild(message, buffers, sender, tenantLimits, plan, out int messageWide, out int perRecipient))
        {
            int recipientCount = buffers.RecipientCount;
            buffers.Return();
            return TooLargeForRulesNow(message, recipientCount, messageWide, perRecipient);
        }

        int count = buffers.RequestCount;
        if (operation != GuardOperation.Peek && Sends is { } sends && count + EmailGuardFeedback.MaxSendCounts <= RateLimitValidation.MaxRequestsPerCall)
        {
            // The ratio breakers' count of this send rides in the same atomic acquire or reservation: counted exactly
            // when admitted, for no round trip of its own, once per mail the provider delivers (each way a recipient is
            // written, as the caps count and as bounces come back). Its counters have no practical limit (MaxLimit), so they
            // never deny the message, and a reservation counts them at its decision's time whatever time it reserves.
            buffers.EnsureRequests(count + EmailGuardFeedback.MaxSendCounts);
            string? clientPartition = message.ClientIp is { } ip ? _keys.ClientIps.Get(ip).Partition : null;

            // The pool's flags were read only when the tenant's rules were (ScreenPool): for a tenant the allowlist skips,
            // they were not, and its mail's bounces still count as the half-open pool's probe failures, so its sends
            // must count as the probe's sends too, or its ordinary bounces alone kept its pool from recovering.
            buffers.ExtraRequestCount = sends.WriteSendCounts(
                message, buffers.TenantPool?.Name, sender?.Address, clientPartition, buffers.DeliveryCount, buffers.Requests.AsSpan(count, EmailGuardFeedback.MaxSendCounts),
                poolHeld: plan.PoolFactor < 1 || (plan.Skip & EmailGuardDimension.Tenant) != 0);
            count += buffers.ExtraRequestCount;
        }

        ReadOnlyMemory<RateLimitRequest> batch = buffers.Requests.AsMemory(0, count);
        Memory<RateLimitEntry> results = buffers.Entries.AsMemory(0, count);
        if (operation == GuardOperation.Check && _store.IsLocal && !cancellationToken.IsCancellationRequested)
        {
            // The in-memory store answers at once, with a decision that is no task (see AcquireLocal).
            RateLimitDecision decided = _store.AcquireLocal(batch, results, buffers.KeysNowMs, _options.FailureMode, cancellationToken);
            return Complete(message, decided, buffers, operation);
        }

        return AcquireFromStore(message, buffers, batch, results, operation, cancellationToken);
    }

    /// <summary>The counters' store call through a task: a store other than the in-memory one, a reservation or a peek, or a cancelled caller.</summary>
    /// <remarks>Not inlined: the store's task and its result would be locals of <see cref="Acquire"/>, zeroed on every check.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> AcquireFromStore(
        OutboundEmail message, GuardBuffers buffers, ReadOnlyMemory<RateLimitRequest> batch, Memory<RateLimitEntry> results, GuardOperation operation, CancellationToken cancellationToken)
    {
        ValueTask<RateLimitDecision> pending = CallStore(operation, batch, results, buffers.Budget, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            return CompleteAsync(pending, message, buffers, operation);
        }

        return Complete(message, pending.Result, buffers, operation);
    }
}
