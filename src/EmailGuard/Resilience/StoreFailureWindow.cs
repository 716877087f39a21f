namespace EmailGuard;

/// <summary>
/// Counts successes and failures over a trailing sampling window, in a fixed ring of buckets so that recording
/// allocates nothing and takes no lock except when a bucket is recycled (once per bucket length).
/// </summary>
/// <remarks>
/// The counts are approximate at bucket boundaries: a call recorded while another thread recycles the bucket can be
/// lost. A breaker only needs the ratio roughly, and exactness would cost a lock on every successful call.
/// </remarks>
internal sealed class StoreFailureWindow
{
    private const int BucketCount = 10;

    private readonly long _bucketLength;
    private readonly long[] _bucketIds = new long[BucketCount];
    private readonly int[] _successes = new int[BucketCount];
    private readonly int[] _failures = new int[BucketCount];
    private readonly Lock _recycleLock = new();

    /// <param name="samplingDuration">The trailing window, in timestamp units.</param>
    public StoreFailureWindow(long samplingDuration)
    {
        _bucketLength = Math.Max(1, samplingDuration / BucketCount);
        Array.Fill(_bucketIds, long.MinValue);
    }

    public void RecordSuccess(long timestamp)
    {
        int slot = Slot(timestamp);
        if (slot >= 0)
        {
            Interlocked.Increment(ref _successes[slot]);
        }
    }

    public void RecordFailure(long timestamp)
    {
        int slot = Slot(timestamp);
        if (slot >= 0)
        {
            Interlocked.Increment(ref _failures[slot]);
        }
    }

    /// <summary>Sums the buckets that overlap the trailing window ending at <paramref name="timestamp"/>.</summary>
    public (int Calls, int Failures) Totals(long timestamp)
    {
        long current = timestamp / _bucketLength;
        int calls = 0;
        int failures = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            long age = current - Volatile.Read(ref _bucketIds[i]);
            if (age is >= 0 and < BucketCount)
            {
                int f = Volatile.Read(ref _failures[i]);
                calls += Volatile.Read(ref _successes[i]) + f;
                failures += f;
            }
        }

        return (calls, failures);
    }

    public void Clear()
    {
        lock (_recycleLock)
        {
            for (int i = 0; i < BucketCount; i++)
            {
                Volatile.Write(ref _bucketIds[i], long.MinValue);
                Volatile.Write(ref _successes[i], 0);
                Volatile.Write(ref _failures[i], 0);
            }
        }
    }

    /// <summary>The bucket for <paramref name="timestamp"/>, recycled first if it still holds an older period; -1 when it already holds a newer one.</summary>
    private int Slot(long timestamp)
    {
        long id = timestamp / _bucketLength;
        int slot = (int)(id % BucketCount);
        long held = Volatile.Read(ref _bucketIds[slot]);
        if (held == id)
        {
            return slot;
        }

        lock (_recycleLock)
        {
            held = _bucketIds[slot];
            if (held > id)
            {
                return -1;
            }

            if (held < id)
            {
                // Zero the counts before publishing the new id, so a reader that sees the id never adds to stale counts.
                Volatile.Write(ref _successes[slot], 0);
                Volatile.Write(ref _failures[slot], 0);
                Volatile.Write(ref _bucketIds[slot], id);
            }
        }

        return slot;
    }
}
