namespace EmailGuard;

/// <summary>
/// A token bucket's counter: its theoretical arrival time and the bucket interval it was written under, with the
/// arithmetic of <see cref="TokenBucketMath"/>. Every read converts the TAT to the reading rule's bucket interval
/// (<see cref="TokenBucketMath.Rebased"/>) without keeping the result: only an admission or a refund writes, as in the
/// Redis store, so that both convert from the same state at the same times.
/// </summary>
internal sealed partial class InMemoryCounter
{
    private long _tatUs = TokenBucketMath.Empty;

    /// <summary>The <see cref="RateLimitRule.BucketIntervalMicroseconds"/> <see cref="_tatUs"/> was written under; 0 before the first write.</summary>
    private long _bucketUs;

    /// <summary>Gives a new counter what an overflow sketch held for its key, written under <paramref name="bucketUs"/>.</summary>
    public void SeedBucket(long tatUs, long bucketUs)
    {
        if (tatUs > _tatUs)
        {
            _tatUs = tatUs;
            _bucketUs = bucketUs;
        }

        ExpiresAtMs = Math.Max(ExpiresAtMs, WindowMath.FloorDiv(_tatUs + 999, 1000));
    }

    /// <summary>The TAT as <paramref name="rule"/> reads it at <paramref name="nowMs"/>.</summary>
    private long TatFor(RateLimitRule rule, long nowMs) => TokenBucketMath.Rebased(_tatUs, _bucketUs, rule, nowMs);

    private long BucketCountAt(RateLimitRule rule, long nowMs) => TokenBucketMath.CountAt(TatFor(rule, nowMs), nowMs, rule.EmissionIntervalMicroseconds);

    private TimeSpan BucketRetryAfter(RateLimitRule rule, long nowMs, long need)
    {
        long tat = TatFor(rule, nowMs);
        long interval = rule.EmissionIntervalMicroseconds;
        return WindowMath.Milliseconds(TokenBucketMath.WaitMs(tat, nowMs, interval, TokenBucketMath.CountAt(tat, nowMs, interval) - need));
    }

    private long BucketResetAtMs(RateLimitRule rule, long nowMs) => TokenBucketMath.ResetAtMs(TatFor(rule, nowMs), nowMs);

    private void BucketAdd(RateLimitRule rule, long nowMs, long cost)
    {
        _tatUs = TokenBucketMath.After(TatFor(rule, nowMs), nowMs, rule.EmissionIntervalMicroseconds, cost);
        _bucketUs = rule.BucketIntervalMicroseconds;
        ExpiresAtMs = TokenBucketMath.ResetAtMs(_tatUs, nowMs);
    }

    // A refund under another bucket interval than the TAT's gives nothing back: the permits it would return were
    // converted since, and a lost refund only makes the limit stricter. The Redis refund script does the same.
    private void BucketSubtract(RateLimitRule rule, long acquiredAtMs, long cost, long nowMs)
    {
        if (_bucketUs == rule.BucketIntervalMicroseconds)
        {
            _tatUs = TokenBucketMath.Refunded(_tatUs, rule, acquiredAtMs, cost, nowMs);
        }
    }
}
