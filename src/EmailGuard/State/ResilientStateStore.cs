using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The state store (lists, flags, flag events) behind the same protection as the rate-limit store: every call is bounded
/// by <see cref="StoreResilienceOptions.Timeout"/> and passes a circuit breaker of its own. A timeout, a store exception
/// or an open circuit surfaces as <see cref="EmailGuardStoreUnavailableException"/>, the one exception the list and flag
/// APIs document; bad input and the caller's own cancellation pass through unchanged.
/// </summary>
/// <remarks>
/// A full <see cref="LoadAsync"/> may take longer than one round trip on a large, healthy state (a suppression list of
/// 100,000 addresses), so it gets <see cref="LoadTimeout"/>. Callers read the version first: a dead or hung store fails
/// that within the short timeout, so only a store that just answered is given the longer bound.
/// </remarks>
internal sealed partial class ResilientStateStore : IEmailGuardStateStore
{
    private static readonly TimeSpan s_minimumLoadTimeout = TimeSpan.FromSeconds(5);

    private readonly IEmailGuardStateStore _store;
    private readonly GuardedStoreCall _call;
    private readonly ILogger _logger;
    private bool _cannotReplaceFlags;

    public ResilientStateStore(IEmailGuardStateStore store, StoreResilienceOptions options, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        Timeout = options.Timeout;
        LoadTimeout = options.StateLoadTimeout
            ?? (options.Timeout * 10 > s_minimumLoadTimeout ? options.Timeout * 10 : s_minimumLoadTimeout);
        _logger = logger ?? NullLogger.Instance;
        _call = new GuardedStoreCall("state store", options, timeProvider, d => LogCircuitOpened(_logger, d), () => LogCircuitClosed(_logger));
    }

    /// <summary>The store behind this wrapper.</summary>
    public IEmailGuardStateStore Inner => _store;

    /// <summary>The bound of every call but <see cref="LoadAsync"/>.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// The bound of <see cref="LoadAsync"/> and <see cref="LoadChangesAsync"/>: <see cref="StoreResilienceOptions.StateLoadTimeout"/>,
    /// by default ten times <see cref="Timeout"/>, at least 5 seconds.
    /// </summary>
    public TimeSpan LoadTimeout { get; }

    public StoreCircuitState CircuitState => _call.CircuitState;

    public ValueTask<long> GetVersionAsync(CancellationToken cancellationToken)
        => CallAsync(static (s, ct) => s.GetVersionAsync(ct), Timeout, "read the state version", cancellationToken);

    public ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken)
        => CallAsync(static (s, ct) => s.LoadAsync(ct), LoadTimeout, "load lists and flags", cancellationToken);

    /// <summary>The changes since a version, bounded by <see cref="LoadTimeout"/>: after a burst of writes they can be many.</summary>
    public ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.LoadChangesAsync(sinceVersion, ct), LoadTimeout, "load list changes", cancellationToken);

    public ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.RecordTenantLimitsChangeAsync(tenantId, ct), Timeout, "record a change of tenant limits", cancellationToken);

    public ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.UpsertListEntryAsync(entry, ct), "write a list entry", cancellationToken);

    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.RemoveListEntryAsync(kind, partyType, value, ct), Timeout, "remove a list entry", cancellationToken);

    public ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.UpsertFlagAsync(flag, ct), "write a flag", cancellationToken);

    /// <summary>
    /// As the store's; a store that answered <see langword="null"/> once (it cannot say what it replaced, and wrote
    /// nothing) is not asked again, so that its answer, which costs it nothing, does not pass for a sign of health
    /// through the circuit.
    /// </summary>
    public async ValueTask<EmailGuardFlagReplacement?> ReplaceFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _cannotReplaceFlags))
        {
            return null;
        }

        EmailGuardFlagReplacement? replacement = await CallAsync((s, ct) => s.ReplaceFlagAsync(flag, ct), Timeout, "write a flag", cancellationToken).ConfigureAwait(false);
        if (replacement is null)
        {
            Volatile.Write(ref _cannotReplaceFlags, true);
        }

        return replacement;
    }

    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.RemoveFlagAsync(partyType, partyId, reason, ct), Timeout, "remove a flag", cancellationToken);

    public ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.AppendFlagEventAsync(flagEvent, ct), "append a flag event", cancellationToken);

    public ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.GetFlagEventsAsync(max, ct), Timeout, "read flag events", cancellationToken);

    private ValueTask CallAsync(Func<IEmailGuardStateStore, CancellationToken, ValueTask> call, string what, CancellationToken cancellationToken)
        => _call.CallAsync(_store, call, Timeout, what, cancellationToken);

    private ValueTask<T> CallAsync<T>(Func<IEmailGuardStateStore, CancellationToken, ValueTask<T>> call, TimeSpan timeout, string what, CancellationToken cancellationToken)
        => _call.CallAsync(_store, call, timeout, what, cancellationToken);

    [LoggerMessage(EventId = 1001, EventName = "StateStoreCircuitOpened", Level = LogLevel.Error,
        Message = "The EmailGuard state store keeps failing: its circuit is open for {BreakDuration}; checks use the last known lists and flags, and the list and flag APIs fail fast.")]
    private static partial void LogCircuitOpened(ILogger logger, TimeSpan breakDuration);

    [LoggerMessage(EventId = 1002, EventName = "StateStoreCircuitClosed", Level = LogLevel.Information,
        Message = "The EmailGuard state store answers again: its circuit is closed.")]
    private static partial void LogCircuitClosed(ILogger logger);
}
