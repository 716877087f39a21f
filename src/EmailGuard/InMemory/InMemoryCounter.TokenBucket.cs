namespace EmailGuard;

/// <summary>A token bucket's counter: its theoretical arrival time, with the arithmetic of <see cref="TokenBucketMath"/>.</summary>
internal sealed partial class InMemoryCounter
{
    private long _tatUs = TokenBucketMath.Empty;

    /// <summary>Gives a new counter what an overflow sketch held for its key.</summary>
    public void SeedBucket(long tatUs)
    {
        _tatUs = Math.Max(_tatUs, tatUs);
        ExpiresAtMs = Math.Max(ExpiresAtMs, WindowMath.FloorDiv(_tatUs + 999, 1000));
    }

    private long BucketCountAt(RateLimitRule rule, long nowMs) => TokenBucketMath.CountAt(_tatUs, nowMs, rule.EmissionIntervalMicroseconds);

    private TimeSpan BucketRetryAfter(RateLimitRule rule, long nowMs, long need)
        => WindowMath.Milliseconds(TokenBucketMath.WaitMs(_tatUs, nowMs, rule.EmissionIntervalMicroseconds, BucketCountAt(rule, nowMs) - need));

    private long BucketResetAtMs(long nowMs) => TokenBucketMath.ResetAtMs(_tatUs, nowMs);

    private void BucketAdd(RateLimitRule rule, long nowMs, long cost)
    {
        _tatUs = TokenBucketMath.After(_tatUs, nowMs, rule.EmissionIntervalMicroseconds, cost);
        ExpiresAtMs = TokenBucketMath.ResetAtMs(_tatUs, nowMs);
    }

    private void BucketSubtract(RateLimitRule rule, long acquiredAtMs, long cost, long nowMs)
        => _tatUs = TokenBucketMath.Refunded(_tatUs, rule, acquiredAtMs, cost, nowMs);
}
