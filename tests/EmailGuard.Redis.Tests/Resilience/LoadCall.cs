namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>One call made by <see cref="ConcurrentLoad"/>: when it started (Stopwatch ticks), how long it took, what it got.</summary>
internal readonly record struct LoadCall(long StartedAt, TimeSpan Duration, RateLimitDecision Decision, Exception? Exception);
