using System.Globalization;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// The decision factory: every decision the guard answers, each denial logged as it is made, and the decision from the
/// store's answer (<see cref="Complete"/>). The denial of a message too large for its rules is in
/// <c>EmailSendGuard.Size.cs</c>.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private static readonly TimeSpan s_stateUnavailableRetryAfter = TimeSpan.FromSeconds(1);

    /// <remarks>
    /// Its state machine, the largest allocation of a check on a remote store (it holds the message, the buffers and
    /// both decisions), comes from a pool. A pooled task that is still pending answers a blocking read with an exception,
    /// and an app may block on its check, so no public method hands this task out pending: a check or a reservation
    /// awaits it in <see cref="RecordAsync"/> (the guard always has metrics when built by <c>AddEmailGuard()</c>), and
    /// <see cref="PeekAsync"/> hands out a pending one as a <see cref="Task"/>.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<EmailSendDecision> CompleteAsync(ValueTask<RateLimitDecision> pending, OutboundEmail message, GuardBuffers buffers, GuardOperation operation)
    {
        RateLimitDecision decision;
        try
        {
            decision = await pending.ConfigureAwait(false);
        }
        catch
        {
            buffers.Return();
            throw;
        }

        return await Complete(message, decision, buffers, operation).ConfigureAwait(false);
    }

    /// <summary>
    /// The decision from the store's answer, with the usage of every counter; raises the events of a commit. Hands
    /// <paramref name="buffers"/> back once it has read them, before it builds the decision it returns.
    /// </summary>
    /// <remarks>
    /// Answers as the pipeline's steps do, so that the step that called the store returns this answer as it is; anything
    /// but an admission is decided in <see cref="CompleteNotAdmitted"/>, so this frame holds no decision but its own.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Complete(OutboundEmail message, in RateLimitDecision decision, GuardBuffers buffers, GuardOperation operation)
    {
        if (decision.Status != RateLimitStatus.Allowed)
        {
            return CompleteNotAdmitted(message, decision, buffers, operation);
        }

        bool commit = operation != GuardOperation.Peek;
        GuardUsage usage = GuardUsage.Capture(buffers);
        if (commit)
        {
            _fairShare?.OnAdmitted(buffers.DeliveryCount);
        }

        int sendCounts = buffers.ExtraRequestCount;
        TenantPool? pool = buffers.TenantPool;
        buffers.Return();
        if (operation == GuardOperation.Reserve)
        {
            Reserved(message, decision.Timestamp);
        }

        if (commit && _options.Events.OnNearLimit is { } onNearLimit && usage.ToArray() is { } all)
        {
            RaiseNearLimit(onNearLimit, message, all);
        }

        if (!commit)
        {
            return Admitted(usage, decision, null, default);
        }

        (EmailSendAttribution? attribution, PendingAttribution pending) = AdmittedLazily(message, sendCounts, pool);
        return Admitted(usage, decision, attribution, pending);
    }

    /// <summary>An admission's decision, as the pipeline returns it; the one place a check's decision is built and wrapped.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ValueTask<EmailSendDecision> Admitted(in GuardUsage usage, in RateLimitDecision decision, EmailSendAttribution? attribution, in PendingAttribution pending)
        => new(new EmailSendDecision(
            EmailSendReason.Allowed, EmailGuardDimension.None, null, null, null, null, TimeSpan.Zero, decision.Timestamp, usage, decision, attribution, pending));

    /// <summary><see cref="Complete"/> for a store that did not admit: a denial, or the failure mode's answer.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> CompleteNotAdmitted(OutboundEmail message, in RateLimitDecision decision, GuardBuffers buffers, GuardOperation operation)
    {
        bool commit = operation != GuardOperation.Peek;
        switch (decision.Status)
        {
            case RateLimitStatus.StoreUnavailable:
                buffers.Return();
                return new(StoreUnavailable(message, decision));
            case RateLimitStatus.AllowedUnguarded:
                TenantPool? pool = buffers.TenantPool;
                buffers.Return();
                return new(Unguarded(message, commit, pool));
        }

        GuardUsage usage = GuardUsage.Capture(buffers);
        RateLimitEntry[] entries = buffers.Entries;
        int count = buffers.RequestCount;
        int deniedIndex = operation == GuardOperation.Reserve ? BindingDenial(entries, count, decision.DeniedIndex) : decision.DeniedIndex;
        int denied = Math.Clamp(deniedIndex, 0, Math.Max(0, count - 1));
        RequestTag tag = count == 0 ? default : buffers.Tags[denied];
        buffers.Return();
        if (commit)
        {
            if (tag.Dimension == EmailGuardDimension.Tenant && tag.Partition is { } partition && partition.StartsWith(TenantPoolRules.PartitionPrefix, StringComparison.Ordinal))
            {
                LogPoolLimitExceeded(_logger, partition, message.TenantId, message.UserId, decision.RetryAfter);
            }
            else
            {
                LogLimitExceeded(_logger, tag.Dimension, message.TenantId, message.UserId, decision.RetryAfter);
            }
            if (_options.Events.OnLimitExceeded is { } onLimitExceeded && count != 0)
            {
                _events.Run(onLimitExceeded, new EmailGuardLimitArguments(message, usage[denied]), nameof(EmailGuardEvents.OnLimitExceeded));
            }
        }

        return new(LimitExceeded(tag, decision, usage));
    }

    // The answers the pipeline gives before the counters, as its steps return them. Not inlined, so that the decision
    // each holds while it is built is no local of the hot methods (see Committed).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Refused(OutboundEmail message, EmailSendReason reason, EmailGuardDimension dimension, string? invalidAddress, string? detail)
        => new(Refuse(message, reason, dimension, null, null, invalidAddress, detail));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> TooManyRecipientsNow(OutboundEmail message, int recipients) => new(TooManyRecipients(message, recipients));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> PartyIdInvalidNow(OutboundEmail message, EmailGuardDimension dimension)
    {
        // Neither the id nor the message's other ids go to the log or the detail: any of them may be the invalid one.
        string id = GuardPartyIds.Of(message, dimension);
        int length = id.Length;
        if (GuardPartyIds.IsBlank(id))
        {
            LogPartyIdBlank(_logger, dimension, length);
            return new(Refuse(message, EmailSendReason.InvalidParty, dimension, null, null, null, string.Create(CultureInfo.InvariantCulture,
                $"The {dimension} id is {(length == 0 ? "empty" : "only white space")}: it names no {dimension.ToString().ToLowerInvariant()} that flags, lists and feedback can act on. Leave it null for a message without one.")));
        }

        LogPartyIdTooLong(_logger, dimension, length, GuardPartyIds.MaxUtf8Bytes);
        return new(Refuse(message, EmailSendReason.InvalidParty, dimension, null, null, null, string.Create(CultureInfo.InvariantCulture,
            $"The {dimension} id is {length} characters long; an id may be at most {GuardPartyIds.MaxUtf8Bytes} bytes in UTF-8.")));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> StateUnavailableNow(OutboundEmail message) => new(StateUnavailable(message));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> ScreenedOut(OutboundEmail message, in PartyDenial denial, DateTimeOffset now)
        => new(denial.Block is { } entry
            ? Blocked(message, denial.Dimension, denial.Partition, denial.Recipient, entry)
            : Suspended(message, denial.Dimension, denial.Partition!, denial.Suspension!, now));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> TooLargeForRulesNow(OutboundEmail message, int recipients, int messageWide, int perRecipient)
        => new(TooLargeForRules(message, recipients, messageWide, perRecipient));

    /// <summary>The lists and flags were never loaded, and the failure mode is to deny.</summary>
    private EmailSendDecision StateUnavailable(OutboundEmail message)
    {
        LogStoreUnavailable(_logger, message.TenantId);
        return new EmailSendDecision(
            EmailSendReason.StoreUnavailable, EmailGuardDimension.None, null, null, null, "The blocklists and flags could not be loaded.",
            s_stateUnavailableRetryAfter, _timeProvider.GetUtcNow(), null);
    }

    /// <summary>The rate-limit store is unavailable, and the failure mode is to deny.</summary>
    private EmailSendDecision StoreUnavailable(OutboundEmail message, RateLimitDecision decision)
    {
        LogStoreUnavailable(_logger, message.TenantId);
        return new EmailSendDecision(EmailSendReason.StoreUnavailable, EmailGuardDimension.None, null, null, null, "The rate-limit store is unavailable.", decision.RetryAfter, _timeProvider.GetUtcNow(), null);
    }

    /// <summary>The rate-limit store is unavailable, and the failure mode is to admit unguarded.</summary>
    /// <param name="message">The message.</param>
    /// <param name="commit">Whether the check commits (not a peek).</param>
    /// <param name="pool">The tenant pool the check decided with.</param>
    private EmailSendDecision Unguarded(OutboundEmail message, bool commit, TenantPool? pool)
    {
        (EmailSendAttribution? attribution, PendingAttribution pending) = commit ? AdmittedLazily(message, sendCounts: 0, pool) : default;
        return new(EmailSendReason.AllowedUnguarded, EmailGuardDimension.None, null, null, null, null, TimeSpan.Zero, _timeProvider.GetUtcNow(), default, default, attribution, pending);
    }

    /// <summary>A counter is full; <paramref name="tag"/> names the first request that was denied. Logged by the caller, on a commit only.</summary>
    private static EmailSendDecision LimitExceeded(RequestTag tag, RateLimitDecision decision, GuardUsage usage)
        => new(EmailSendReason.LimitExceeded, tag.Dimension, tag.Partition, tag.Recipient, null, null, decision.RetryAfter, decision.Timestamp, usage, default, null, default);

    private EmailSendDecision Blocked(OutboundEmail message, EmailGuardDimension dimension, string? partition, string? recipient, EmailGuardListEntry entry)
    {
        LogBlocked(_logger, dimension, entry.Reason, message.TenantId, message.UserId);
        return new EmailSendDecision(
            EmailSendReason.Blocklisted, dimension, partition, recipient, null, $"Blocklisted: {entry.Reason}", TimeSpan.MaxValue, _timeProvider.GetUtcNow(), null);
    }

    private EmailSendDecision Suspended(OutboundEmail message, EmailGuardDimension dimension, string partyId, EmailGuardFlag flag, DateTimeOffset now)
    {
        LogSuspended(_logger, dimension, flag.Reason, message.TenantId, message.UserId);
        return new EmailSendDecision(
            EmailSendReason.Suspended, dimension, partyId, null, null, $"Suspended: {flag.Reason}", flag.ExpiresAt - now, now, null);
    }

    private EmailSendDecision TooManyRecipients(OutboundEmail message, int recipients)
    {
        LogTooManyRecipients(_logger, recipients, _options.MaxRecipientsPerMessage, message.TenantId);
        return Refuse(message, EmailSendReason.TooManyRecipients, EmailGuardDimension.Recipient, null, null, null,
            $"The message has {recipients} recipients; at most {_options.MaxRecipientsPerMessage} are allowed.");
    }

    private EmailSendDecision Refuse(OutboundEmail message, EmailSendReason reason, EmailGuardDimension dimension, string? partition, string? recipient, string? invalidAddress, string? detail)
    {
        if (reason == EmailSendReason.InvalidAddress)
        {
            LogInvalidAddress(_logger, dimension, detail, message.TenantId, message.UserId);
        }

        return new EmailSendDecision(reason, dimension, partition, recipient, invalidAddress, detail, TimeSpan.MaxValue, _timeProvider.GetUtcNow(), null);
    }
}
