namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// What one kill-under-load-and-restart showed: every call of the load, the ones started while the node was down, the
/// circuit's state then, how long the node was down, and how long after its restart shared counting returned.
/// <see cref="LocalDenialsUntil"/> is the <see cref="System.Diagnostics.Stopwatch"/> timestamp before which a call may
/// still have been denied from the store's over-limit cache, filled before the kill.
/// </summary>
internal sealed record NodeOutage(
    ConcurrentLoad Load, LoadCall[] WhileDown, bool AsWanted, StoreCircuitState CircuitWhileDown, TimeSpan Down, TimeSpan? Recovery, long LocalDenialsUntil);
