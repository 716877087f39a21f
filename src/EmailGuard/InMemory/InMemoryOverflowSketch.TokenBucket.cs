namespace EmailGuard;

/// <summary>
/// The sketch of a token-bucket shape: one row of theoretical arrival times (TATs) per hash instead of counts. A key's
/// TAT is the earliest of its cells, and an update raises only cells below the key's new TAT, so every cell is at
/// least the TAT of every key that maps to it: a key is never held back less than its exact counter would.
/// </summary>
internal sealed partial class InMemoryOverflowSketch
{
    private readonly long[]? _tats;
    private readonly long _intervalUs;
    private long _latestTatUs = TokenBucketMath.Empty;

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
