namespace EmailGuard;

/// <summary>
/// The sketch of a token-bucket shape: one row of theoretical arrival times (TATs) per hash instead of counts. A key's
/// TAT is the earliest of its cells, and an update raises only cells below the key's new TAT, so every cell is at
/// least the TAT of every key that maps to it: a key is never held back less than its exact counter would.
/// </summary>
internal sealed partial class InMemoryOverflowSketch
{
    private readonly long[]? _tats;
    private long _intervalUs;

    /// <summary>The <see cref="RateLimitRule.BucketIntervalMicroseconds"/> the cells were written under.</summary>
    private long _bucketUs;
    private long _latestTatUs = TokenBucketMath.Empty;

    /// <summary>
    /// Converts every cell to <paramref name="rule"/>'s bucket interval when it differs from the one they were written
    /// under (the bucket's limit, burst or rate changed): as an exact counter converts its TAT, but kept, since the
    /// sketch counts in one interval. The conversion never lowers a cell below a key's own converted TAT (it is
    /// monotonic), so the sketch still never holds a key back less than its exact counter would. Under the shape's lock.
    /// </summary>
    public void Follow(RateLimitRule rule, long nowMs)
    {
        if (_tats is null || rule.BucketIntervalMicroseconds == _bucketUs)
        {
            return;
        }

        long[] tats = _tats;
        for (int i = 0; i < tats.Length; i++)
        {
            tats[i] = TokenBucketMath.Rebased(tats[i], _bucketUs, rule, nowMs);
        }

        _latestTatUs = TokenBucketMath.Rebased(_latestTatUs, _bucketUs, rule, nowMs);
        _bucketUs = rule.BucketIntervalMicroseconds;
        _intervalUs = rule.EmissionIntervalMicroseconds;
    }

    private long BucketTat(string key)
    {
        Columns columns = new(key, _widthShift);
        long[] tats = _tats!;
        long tat = long.MaxValue;
        for (int row = 0; row < Depth; row++)
        {
            tat = Math.Min(tat, tats[(row * _width) + columns[row]]);
        }

        return tat;
    }

    private long BucketCountAt(string key, long nowMs) => TokenBucketMath.CountAt(BucketTat(key), nowMs, _intervalUs);

    private TimeSpan BucketRetryAfter(string key, long nowMs, long need)
    {
        long tat = BucketTat(key);
        return WindowMath.Milliseconds(TokenBucketMath.WaitMs(tat, nowMs, _intervalUs, TokenBucketMath.CountAt(tat, nowMs, _intervalUs) - need));
    }

    private void BucketAdd(string key, long nowMs, long cost)
    {
        Columns columns = new(key, _widthShift);
        long[] tats = _tats!;
        long raised = TokenBucketMath.After(BucketTat(key), nowMs, _intervalUs, cost);
        for (int row = 0; row < Depth; row++)
        {
            ref long cell = ref tats[(row * _width) + columns[row]];
            if (cell < raised)
            {
                cell = raised;
            }
        }

        _latestTatUs = Math.Max(_latestTatUs, raised);
    }
}
