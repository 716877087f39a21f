namespace EmailGuard;

/// <summary>
/// The counter of one key under one rule shape. A fixed window uses one slot; a sliding window of S segments uses a
/// ring of S + 1 slots, since S + 1 segments overlap a trailing window. All fields are guarded by locking the instance.
/// </summary>
internal sealed class InMemoryCounter
{
    private static long s_nextId;

    public InMemoryCounter(RateLimitRule rule)
    {
        int slots = rule.Algorithm == RateLimitAlgorithm.FixedWindow ? 1 : rule.Segments + 1;
        Counts = new long[slots];
        Indexes = new long[slots];
        Array.Fill(Indexes, long.MinValue);
        Id = Interlocked.Increment(ref s_nextId);
    }

    /// <summary>A process-wide unique number that orders lock acquisition, so multi-key acquires cannot deadlock.</summary>
    public long Id { get; }

    /// <summary>Permits counted per slot.</summary>
    public long[] Counts { get; }

    /// <summary>The window or segment index each slot currently holds.</summary>
    public long[] Indexes { get; }

    /// <summary>Unix milliseconds after which the counter holds nothing that still counts.</summary>
    public long ExpiresAtMs { get; set; }

    /// <summary>Set when the counter has left the dictionary; a caller holding it must look the key up again.</summary>
    public bool Removed { get; set; }

    /// <summary>Permits that count at <paramref name="nowMs"/>.</summary>
    public long CountAt(RateLimitRule rule, long nowMs)
    {
        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            return Indexes[0] == WindowMath.FloorDiv(nowMs, rule.WindowMilliseconds) ? Counts[0] : 0;
        }

        long current = WindowMath.FloorDiv(nowMs, rule.SegmentMilliseconds);
        long sum = 0;
        for (long j = current - rule.Segments; j <= current; j++)
        {
            sum += SegmentCount(j);
        }

        return sum;
    }

    /// <summary>
    /// How long until <paramref name="need"/> more permits fit: the moment enough of the oldest segments leave the
    /// trailing window. <see cref="TimeSpan.MaxValue"/> when even an empty window would not be enough.
    /// </summary>
    public TimeSpan RetryAfter(RateLimitRule rule, long nowMs, long need)
    {
        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            long index = WindowMath.FloorDiv(nowMs, rule.WindowMilliseconds);
            return WindowMath.Milliseconds(((index + 1) * rule.WindowMilliseconds) - nowMs);
        }

        long g = rule.SegmentMilliseconds;
        long current = WindowMath.FloorDiv(nowMs, g);
        long freed = 0;
        for (long j = current - rule.Segments; j <= current; j++)
        {
            freed += SegmentCount(j);
            if (freed >= need)
            {
                return WindowMath.Milliseconds(((j + rule.Segments + 1) * g) - nowMs);
            }
        }

        return TimeSpan.MaxValue;
    }

    /// <summary>When everything counted now will have left the window.</summary>
    public long ResetAtMs(RateLimitRule rule, long nowMs)
    {
        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            return (WindowMath.FloorDiv(nowMs, rule.WindowMilliseconds) + 1) * rule.WindowMilliseconds;
        }

        long g = rule.SegmentMilliseconds;
        long current = WindowMath.FloorDiv(nowMs, g);
        for (long j = current; j >= current - rule.Segments; j--)
        {
            if (SegmentCount(j) > 0)
            {
                return (j + rule.Segments + 1) * g;
            }
        }

        return nowMs;
    }

    public void Add(RateLimitRule rule, long nowMs, long cost)
    {
        long index;
        int slot;
        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            index = WindowMath.FloorDiv(nowMs, rule.WindowMilliseconds);
            slot = 0;
            ExpiresAtMs = (index + 1) * rule.WindowMilliseconds;
        }
        else
        {
            index = WindowMath.FloorDiv(nowMs, rule.SegmentMilliseconds);
            slot = (int)WindowMath.Mod(index, Counts.Length);
            ExpiresAtMs = (index + rule.Segments + 1) * rule.SegmentMilliseconds;
        }

        if (Indexes[slot] != index)
        {
            Indexes[slot] = index;
            Counts[slot] = 0;
        }

        Counts[slot] += cost;
    }

    /// <summary>Takes back permits added at <paramref name="acquiredAtMs"/>, if their window or segment is still held.</summary>
    public void Subtract(RateLimitRule rule, long acquiredAtMs, long cost)
    {
        long index;
        int slot;
        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            index = WindowMath.FloorDiv(acquiredAtMs, rule.WindowMilliseconds);
            slot = 0;
        }
        else
        {
            index = WindowMath.FloorDiv(acquiredAtMs, rule.SegmentMilliseconds);
            slot = (int)WindowMath.Mod(index, Counts.Length);
        }

        if (Indexes[slot] == index)
        {
            Counts[slot] = Math.Max(0, Counts[slot] - cost);
        }
    }

    private long SegmentCount(long segment)
    {
        int slot = (int)WindowMath.Mod(segment, Counts.Length);
        return Indexes[slot] == segment ? Counts[slot] : 0;
    }
}
