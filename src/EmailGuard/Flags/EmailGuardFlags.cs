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

    public EmailGuardFlags(GuardStateCache state, IOptions<SendGuardOptions> options, TimeProvider timeProvider, ILogger<EmailGuardFlags>? logger = null)
    {
        _state = state;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
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

    /// <summary>Flags with an explicit policy, so a ratio breaker can reduce and then suspend under one reason.</summary>
    internal async ValueTask<EmailGuardFlag> FlagAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string reason,
        FlagPolicy? policyOverride,
        TimeSpan? duration,
        string? flaggedBy,
        IReadOnlyDictionary<string, string>? metadata,
        CancellationToken cancellationToken)
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
            FlaggedAt = now,
            ExpiresAt = now + length,
            Suspend = policy.Suspend,
            LimitFactor = policy.Suspend ? 1 : policy.LimitFactor,
            FlaggedBy = flaggedBy,
            Metadata = metadata,
        };

        await _state.Store.UpsertFlagAsync(flag, cancellationToken).ConfigureAwait(false);
        await _state.Store.AppendFlagEventAsync(
            new EmailGuardFlagEvent
            {
                Kind = flag.Suspend ? EmailGuardFlagEventKind.Suspended : EmailGuardFlagEventKind.Flagged,
                PartyType = partyType,
                PartyId = partyId,
                Reason = reason,
                At = now,
                ExpiresAt = flag.ExpiresAt,
                By = flaggedBy,
                Metadata = metadata,
            },
            cancellationToken).ConfigureAwait(false);
        await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);

        if (flag.Suspend)
        {
            LogSuspended(_logger, partyType, reason, flag.ExpiresAt, flaggedBy);
        }
        else
        {
            LogFlagged(_logger, partyType, reason, flag.LimitFactor, flag.ExpiresAt, flaggedBy);
        }

        EmailGuardEvents events = _options.Events;
        Raise(partyType == EmailGuardPartyType.User ? events.OnUserFlagged : flag.Suspend ? events.OnTenantSuspended : events.OnTenantFlagged, flag);
        return flag;
    }

    public async ValueTask<int> ClearAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string? reason = null,
        string? clearedBy = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default)
    {
        CheckParty(partyType, partyId);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        GuardStateData data = await _state.LoadCurrentAsync(cancellationToken).ConfigureAwait(false);
        int cleared = 0;
        foreach (EmailGuardFlag flag in data.Flags)
        {
            if (flag.PartyType == partyType
                && string.Equals(flag.PartyId, partyId, StringComparison.Ordinal)
                && (reason is null || string.Equals(flag.Reason, reason.Trim(), StringComparison.OrdinalIgnoreCase))
                && flag.IsActive(now)
                && await _state.Store.RemoveFlagAsync(partyType, partyId, flag.Reason, cancellationToken).ConfigureAwait(false))
            {
                cleared++;
            }
        }

        await _state.Store.AppendFlagEventAsync(
            new EmailGuardFlagEvent
            {
                Kind = EmailGuardFlagEventKind.Cleared,
                PartyType = partyType,
                PartyId = partyId,
                Reason = reason,
                At = now,
                By = clearedBy,
                Metadata = metadata,
            },
            cancellationToken).ConfigureAwait(false);
        await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);
        LogCleared(_logger, partyType, reason, cleared, clearedBy);
        return cleared;
    }

    public async ValueTask<IReadOnlyList<EmailGuardFlag>> GetActiveFlagsAsync(EmailGuardPartyType partyType, string partyId, CancellationToken cancellationToken = default)
    {
        CheckParty(partyType, partyId);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        GuardStateData data = await _state.LoadCurrentAsync(cancellationToken).ConfigureAwait(false);
        return [.. data.Flags.Where(f => f.PartyType == partyType && string.Equals(f.PartyId, partyId, StringComparison.Ordinal) && f.IsActive(now))];
    }

    public async ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetEventsAsync(EmailGuardFlagEventQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Take, 1, nameof(query.Take));
        IReadOnlyList<EmailGuardFlagEvent> events = await _state.Store.GetFlagEventsAsync(GuardStateKeys.MaxFlagEvents, cancellationToken).ConfigureAwait(false);
        return [.. events
            .Where(e => (query.PartyType is not { } type || e.PartyType == type)
                && (query.PartyId is null || string.Equals(e.PartyId, query.PartyId, StringComparison.Ordinal))
                && (query.Since is not { } since || e.At >= since))
            .Take(query.Take)];
    }

    private static void CheckParty(EmailGuardPartyType partyType, string partyId)
    {
        if (partyType is not (EmailGuardPartyType.User or EmailGuardPartyType.Tenant))
        {
            throw new ArgumentOutOfRangeException(nameof(partyType), partyType, "Only users and tenants can be flagged.");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(partyId);
    }

    private void Raise(Action<EmailGuardFlag>? callback, EmailGuardFlag flag)
    {
        try
        {
            callback?.Invoke(flag);
        }
        catch (Exception ex)
        {
            LogEventCallbackFailed(_logger, ex);
        }
    }

    [LoggerMessage(EventId = 440, EventName = "PartyFlagged", Level = LogLevel.Warning,
        Message = "A {PartyType} was flagged ({Reason}): limits reduced to {LimitFactor:P0} until {ExpiresAt}, by {FlaggedBy}.")]
    private static partial void LogFlagged(ILogger logger, EmailGuardPartyType partyType, string reason, double limitFactor, DateTimeOffset expiresAt, string? flaggedBy);

    [LoggerMessage(EventId = 441, EventName = "PartySuspended", Level = LogLevel.Warning,
        Message = "A {PartyType} was suspended ({Reason}) until {ExpiresAt}, by {FlaggedBy}.")]
    private static partial void LogSuspended(ILogger logger, EmailGuardPartyType partyType, string reason, DateTimeOffset expiresAt, string? flaggedBy);

    [LoggerMessage(EventId = 442, EventName = "FlagCleared", Level = LogLevel.Information,
        Message = "{Count} flag(s) of a {PartyType} cleared (reason {Reason}) by {ClearedBy}.")]
    private static partial void LogCleared(ILogger logger, EmailGuardPartyType partyType, string? reason, int count, string? clearedBy);

    [LoggerMessage(EventId = 443, EventName = "FlagEventCallbackFailed", Level = LogLevel.Error,
        Message = "An EmailGuard flag event callback threw; the flag was recorded.")]
    private static partial void LogEventCallbackFailed(ILogger logger, Exception exception);
}
