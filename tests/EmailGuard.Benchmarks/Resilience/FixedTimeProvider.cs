namespace EmailGuard.Benchmarks.Resilience;

/// <summary>A clock that never moves, so no window ends and no counter expires in the middle of a measurement.</summary>
internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
