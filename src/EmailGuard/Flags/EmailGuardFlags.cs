using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Flags and suspensions over the state store, recording every change as an event.</summary>
internal sealed partial class EmailGuardFlags : IEmailGuardFlags
{
    private readonly GuardStateCache _state;
    private readonly SendGuardOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly EmailGuardEventRunner _events;

    public EmailGuardFlags(GuardStateCache state, IOptions<SendGuardOptions> options, TimeProvider timeProvider, ILogger<EmailGuardFlags>? logger = null)
    {
        _state = state;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _events = new EmailGuardEventRunner(_logger);
    }

    public ValueTask<EmailGuardFlag> FlagAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string reason,
        TimeSpan? duration = null,
        string? flaggedBy = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default)
        => FlagAsync(partyType, partyId, reason, null, duration, flaggedBy, metadata, cancellationToken);

    /// <summary>
    /// Flags with an explicit policy, so a ratio breaker can reduce and then suspend under one reason. Without
    /// <paramref name="raiseEvents"/> the app's callbacks are not raised (a breaker's half-open flag, which follows the
    /// trip the callbacks already reported); the flag event and the log are written all the same.
    /// </summary>
    internal async ValueTask<EmailGuardFlag> FlagAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string reason,
        FlagPolicy? policyOverride,
        TimeSpan? duration,
        string? flaggedBy,
        IReadOnlyDictionary<string, string>? metadata,
        CancellationToken cancellationToken,
        bool raiseEvents = true)
    {
        CheckParty(partyType, partyId);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        reason = reason.Trim();
        FlagPolicy policy = policyOverride ?? _options.GetFlagPolicy(reason);
        TimeSpan length = duration ?? policy.Duration;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(length, TimeSpan.Zero, nameof(duration));
        DateTimeOffset now = _timeProvider.GetUtcNow();
        EmailGuardFlag flag = new()
        {
            PartyType = partyType,
            PartyId = partyId,
            Reason = reason,
            CreatedAt = now,
            ExpiresAt = now + length,
            Suspend = policy.Suspend,
            LimitFactor = policy.Suspend ? 1 : policy.LimitFactor,
            CreatedBy = flaggedBy,
            Metadata = metadata,
        };

        EmailGuardEvents events = _options.Events;
        (Func<EmailGuardFlagArguments, ValueTask>? callback, string name) = partyType == EmailGuardPartyType.User
            ? (events.OnUserFlagged, nameof(EmailGuardEvents.OnUserFlagged))
            : flag.Suspend
                ? (events.OnTenantSuspended, nameof(EmailGuardEvents.OnTenantSuspended))
                : (events.OnTenantFlagged, nameof(EmailGuardEvents.OnTenantFlagged));
        raiseEvents &= callback is not null;
        EmailGuardFlag? replaced = await WriteAsync(flag, raiseEvents, cancellationToken).ConfigureAwait(false);
        await _state.Store.AppendFlagEventAsync(
            new EmailGuardFlagEvent
            {
                Kind = flag.Suspend ? EmailGuardFlagEventKind.Suspended : EmailGuardFlagEventKind.Flagged,
                PartyType = partyType,
                PartyId = partyId,
                Reason = reason,
                CreatedAt = now,
                ExpiresAt = flag.ExpiresAt,
                CreatedBy = flaggedBy,
                Metadata = metadata,
            },
            cancellationToken).ConfigureAwait(false);
        await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);

        if (flag.Suspend)
        {
            LogSuspended(_logger, partyType, LogValue.Of(reason), LogValue.Of(flaggedBy) ?? Unknown, flag.ExpiresAt);
        }
        else
        {
            LogFlagged(_logger, partyType, LogValue.Of(reason), LogValue.Of(flaggedBy) ?? Unknown, (int)Math.Round(flag.LimitFactor * 100), flag.ExpiresAt);
        }

        if (raiseEvents)
        {
            _events.Run(callback!, new EmailGuardFlagArguments(flag, replaced), name);
        }

        return flag;
    }

    public async ValueTask<int> ClearAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string? flagReason = null,
        string? comment = null,
        string? clearedBy = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        CheckParty(partyType, partyId);
        string? filter = flagReason?.Trim();
        DateTimeOffset now = _timeProvider.GetUtcNow();
        GuardStateSnapshot data = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        int cleared = 0;
        foreach (EmailGuardFlag flag in data.Flags)
        {
            if (flag.PartyType == partyType
                && string.Equals(flag.PartyId, partyId, StringComparison.Ordinal)
                && (filter is null || string.Equals(flag.Reason, filter, StringComparison.OrdinalIgnoreCase))
                && flag.IsActive(now)
                && await _state.Store.RemoveFlagAsync(partyType, partyId, flag.Reason, cancellationToken).ConfigureAwait(false))
            {
                cleared++;
                await _state.Store.AppendFlagEventAsync(
                    new EmailGuardFlagEvent
                    {
                        Kind = EmailGuardFlagEventKind.Cleared,
                        PartyType = partyType,
                        PartyId = partyId,
                        Reason = flag.Reason,
                        Comment = comment,
                        CreatedAt = now,
                        CreatedBy = clearedBy,
                        Metadata = metadata,
                    },
                    cancellationToken).ConfigureAwait(false);
            }
        }

        // A clear that found nothing changed nothing: no event, no log line that would read as if a flag had been lifted.
        if (cleared == 0)
        {
            return 0;
        }

        await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);
        string shownBy = LogValue.Of(clearedBy) ?? Unknown, shownComment = LogValue.Of(comment) ?? NoComment;
        LogCleared(_logger, cleared, partyType, shownBy, shownComment);
        return cleared;
    }

    public async ValueTask<IReadOnlyList<EmailGuardFlag>> GetActiveFlagsAsync(EmailGuardPartyType partyType, string partyId, CancellationToken cancellationToken = default)
    {
        CheckParty(partyType, partyId);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        GuardStateSnapshot data = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        return [.. data.Flags.Where(f => f.PartyType == partyType && string.Equals(f.PartyId, partyId, StringComparison.Ordinal) && f.IsActive(now))];
    }

    public async ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetEventsAsync(EmailGuardFlagEventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Take, 1, nameof(query.Take));
        IReadOnlyList<EmailGuardFlagEvent> events = await _state.Store.GetFlagEventsAsync(IEmailGuardStateStore.MaxFlagEvents, cancellationToken).ConfigureAwait(false);
        return [.. events
            .Where(e => (query.PartyType is not { } type || e.PartyType == type)
                && (query.PartyId is null || string.Equals(e.PartyId, query.PartyId, StringComparison.Ordinal))
                && (query.Since is not { } since || e.CreatedAt >= since))
            .Take(query.Take)];
    }

    /// <summary>
    /// Writes the flag and returns the active flag of the party for its reason that it replaced, so that the callbacks
    /// can tell a new incident from a repeat (an alert that deduplicated a suspension after a clear paged nobody). The
    /// store says which in the write itself, so a clear on another instance counts and the flag is in force after one
    /// store call, however slow the store's reads (a read first waited a version read, or a catch-up bounded by the
    /// load timeout, before the suspension landed). A store that cannot say is read first when the answer is wanted.
    /// </summary>
    private async ValueTask<EmailGuardFlag?> WriteAsync(EmailGuardFlag flag, bool wantReplaced, CancellationToken cancellationToken)
    {
        EmailGuardFlagReplacement? replacement = await _state.Store.ReplaceFlagAsync(flag, cancellationToken).ConfigureAwait(false);
        if (replacement is not null)
        {
            return replacement.Replaced is { } old && old.IsActive(flag.CreatedAt) ? old : null;
        }

        EmailGuardFlag? replaced = wantReplaced
            ? await FindActiveAsync(flag.PartyType, flag.PartyId, flag.Reason, flag.CreatedAt, cancellationToken).ConfigureAwait(false)
            : null;
        await _state.Store.UpsertFlagAsync(flag, cancellationToken).ConfigureAwait(false);
        return replaced;
    }

    /// <summary>
    /// The active flag of the party for <paramref name="reason"/>, for a store that cannot say what a write replaced.
    /// Read from the store, so that a clear on another instance counts; when the store does not answer, this instance's
    /// last snapshot.
    /// </summary>
    private async ValueTask<EmailGuardFlag?> FindActiveAsync(EmailGuardPartyType partyType, string partyId, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        GuardStateSnapshot? snapshot;
        try
        {
            snapshot = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException)
        {
            snapshot = _state.Current;
        }

        return snapshot?.GetActiveFlags(partyType, partyId, now).FirstOrDefault(f => string.Equals(f.Reason, reason, StringComparison.OrdinalIgnoreCase));
    }

    private static void CheckParty(EmailGuardPartyType partyType, string partyId)
    {
        if (partyType is not (EmailGuardPartyType.User or EmailGuardPartyType.Tenant or EmailGuardPartyType.Category or EmailGuardPartyType.TenantPool))
        {
            throw new ArgumentOutOfRangeException(nameof(partyType), partyType, "Only users, tenants, categories and tenant pools can be flagged.");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(partyId);
    }

    /// <summary>Stands in for a missing actor, so log lines read as sentences.</summary>
    private const string Unknown = "an unnamed caller";

    private const string NoComment = "none given";

    [LoggerMessage(EventId = 440, EventName = "PartyFlagged", Level = LogLevel.Warning,
        Message = "A {PartyType} was flagged for {Reason} by {FlaggedBy}: its limits are reduced to {LimitPercent} percent until {ExpiresAt:u}.")]
    private static partial void LogFlagged(ILogger logger, EmailGuardPartyType partyType, string reason, string flaggedBy, int limitPercent, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 441, EventName = "PartySuspended", Level = LogLevel.Warning,
        Message = "A {PartyType} was suspended for {Reason} by {FlaggedBy} until {ExpiresAt:u}.")]
    private static partial void LogSuspended(ILogger logger, EmailGuardPartyType partyType, string reason, string flaggedBy, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 442, EventName = "FlagCleared", Level = LogLevel.Information,
        Message = "{Count} flag(s) of a {PartyType} were cleared by {ClearedBy}; comment: {Comment}.")]
    private static partial void LogCleared(ILogger logger, int count, EmailGuardPartyType partyType, string clearedBy, string comment);
}
