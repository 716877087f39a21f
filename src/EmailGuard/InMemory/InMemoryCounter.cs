// Over 300 lines on purpose: the decision arithmetic of every rule type mirrors the Redis acquire script (RedisRateLimitStore.Scripts.Acquire.cs) line by line, and the differential tests hold the two to identical answers; one file keeps them comparable.
namespace EmailGuard;

/// <summary>
/// The counter of one key under one rule shape. A fixed window uses one slot; a sliding window of S segments uses a
/// ring of S + 1 slots, since S + 1 segments overlap a trailing window; a token bucket keeps its theoretical arrival
/// time (<see cref="InMemoryCounter"/>'s token-bucket partial). All fields are guarded by locking the instance.
/// </summary>
internal sealed partial class InMemoryCounter : InMemoryLock
{
    // A fixed window keeps its one slot in fields, so a decision on the common case touches this object alone.
    private long _index = long.MinValue;
    private long _count;

    // A sliding window keeps a ring of S + 1 (segment index, count) pairs, interleaved so a segment's index and count
    // share a cache line and the ring is one allocation.
    private readonly long[]? _ring;
    private readonly int _ringSlots;

    // The window (fixed) or segment (sliding) that "now" fell into last time, and the interval it covers: time mostly
    // stays inside it, and a 64-bit division costs more than the rest of a decision.
    private readonly long _lengthMs;
    private long _currentIndex;
    private long _currentStartMs = long.MaxValue;
    private long _currentEndMs = long.MinValue;
    private int _currentSlot;

    public InMemoryCounter(RateLimitRule rule, string key)
    {
        Key = key;
        if (rule.Algorithm == RateLimitAlgorithm.SlidingWindow)
        {
            _ringSlots = rule.Segments + 1;
            _ring = new long[2 * _ringSlots];
            for (int slot = 0; slot < _ringSlots; slot++)
            {
                _ring[2 * slot] = long.MinValue;
            }
        }

        _lengthMs = rule.Algorithm == RateLimitAlgorithm.SlidingWindow ? rule.SegmentMilliseconds : rule.WindowMilliseconds;
    }

    /// <summary>The key the counter was created for, the very string: <see cref="InMemoryShape.TryGetCounter"/> finds the counter by it.</summary>
    public string Key { get; }

    /// <summary>Unix milliseconds after which the counter holds nothing that still counts.</summary>
    public long ExpiresAtMs { get; set; }

    /// <summary>Set when the counter has left the dictionary; a caller holding it must look the key up again.</summary>
    public bool Removed { get; set; }

    /// <summary>
    /// Decides a call whose only request is on this counter: the common case, so the window arithmetic is done once
    /// rather than once for the check, once for the reset time and again after the commit. Decides exactly as the
    /// general multi-key evaluation does. The caller holds the lock.
    /// </summary>
    public RateLimitDecision DecideAlone(RateLimitRule rule, long cost, long nowMs, bool commit, Span<RateLimitEntry> results)
    {
        long limit = rule.Limit;
        long count;
        long resetAtMs;
        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            long index = IndexAt(nowMs);
            resetAtMs = (index + 1) * rule.WindowMilliseconds;
            count = _index == index ? _count : 0;
            if (count + cost <= limit)
            {
                if (commit)
                {
                    count += cost;
                    _index = index;
                    _count = count;
                    ExpiresAtMs = resetAtMs;
                }

                return Allowed(results, count, limit, resetAtMs, nowMs, commit);
            }

            TimeSpan fixedRetry = cost > limit ? TimeSpan.MaxValue : WindowMath.Milliseconds(resetAtMs - nowMs);
            return Denied(results, count, limit, fixedRetry, resetAtMs, nowMs);
        }

        count = CountAt(rule, nowMs);
        if (count + cost <= limit)
        {
            if (commit)
            {
                Add(rule, nowMs, cost);
                count += cost;
                resetAtMs = ExpiresAtMs;
            }
            else
            {
                resetAtMs = ResetAtMs(rule, nowMs);
            }

            return Allowed(results, count, limit, resetAtMs, nowMs, commit);
        }

        TimeSpan retry = cost > limit ? TimeSpan.MaxValue : RetryAfter(rule, nowMs, count + cost - limit);
        return Denied(results, count, limit, retry, ResetAtMs(rule, nowMs), nowMs);
    }

    /// <summary>Permits that count at <paramref name="nowMs"/>.</summary>
    public long CountAt(RateLimitRule rule, long nowMs)
    {
        if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            return BucketCountAt(rule, nowMs);
        }

        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            return _index == IndexAt(nowMs) ? _count : 0;
        }

        // Each ring slot can only hold segments congruent to it, so a segment inside the trailing window is counted
        // by its slot alone; scanning the slots in order needs no division per segment.
        long current = IndexAt(nowMs);
        long oldest = current - rule.Segments;
        long[] ring = _ring!;
        long sum = 0;
        for (int slot = 0; slot < ring.Length; slot += 2)
        {
            long segment = ring[slot];
            if (segment >= oldest && segment <= current)
            {
                sum += ring[slot + 1];
            }
        }

        return sum;
    }

    /// <summary>
    /// How long until <paramref name="need"/> more permits fit: the moment enough of the oldest segments leave the
    /// trailing window. <see cref="TimeSpan.MaxValue"/> when even an empty window would not be enough.
    /// </summary>
    public TimeSpan RetryAfter(RateLimitRule rule, long nowMs, long need)
    {
        if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            return BucketRetryAfter(rule, nowMs, need);
        }

        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            long index = IndexAt(nowMs);
            return WindowMath.Milliseconds(((index + 1) * rule.WindowMilliseconds) - nowMs);
        }

        long g = rule.SegmentMilliseconds;
        long current = IndexAt(nowMs);
        long[] ring = _ring!;

        // The oldest counted segment, current - S, is current + 1 modulo the S + 1 slots of the ring.
        int slot = _currentSlot + 2 == ring.Length ? 0 : _currentSlot + 2;
        long freed = 0;
        for (long j = current - rule.Segments; j <= current; j++)
        {
            if (ring[slot] == j)
            {
                freed += ring[slot + 1];
                if (freed >= need)
                {
                    return WindowMath.Milliseconds(((j + rule.Segments + 1) * g) - nowMs);
                }
            }

            slot += 2;
            if (slot == ring.Length)
            {
                slot = 0;
            }
        }

        return TimeSpan.MaxValue;
    }

    /// <summary>When everything counted now will have left the window.</summary>
    public long ResetAtMs(RateLimitRule rule, long nowMs)
    {
        if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            return BucketResetAtMs(rule, nowMs);
        }

        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            return (IndexAt(nowMs) + 1) * rule.WindowMilliseconds;
        }

        long g = rule.SegmentMilliseconds;
        long current = IndexAt(nowMs);
        long oldest = current - rule.Segments;
        long[] ring = _ring!;
        long newest = long.MinValue;
        for (int slot = 0; slot < ring.Length; slot += 2)
        {
            long segment = ring[slot];
            if (segment >= oldest && segment <= current && segment > newest && ring[slot + 1] > 0)
            {
                newest = segment;
            }
        }

        return newest == long.MinValue ? nowMs : (newest + rule.Segments + 1) * g;
    }

    public void Add(RateLimitRule rule, long nowMs, long cost)
    {
        if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            BucketAdd(rule, nowMs, cost);
            return;
        }

        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            long window = IndexAt(nowMs);
            if (_index != window)
            {
                _index = window;
                _count = 0;
            }

            _count += cost;
            ExpiresAtMs = (window + 1) * rule.WindowMilliseconds;
            return;
        }

        long segment = IndexAt(nowMs);
        int slot = _currentSlot;
        if (_ring![slot] != segment)
        {
            _ring[slot] = segment;
            _ring[slot + 1] = 0;
        }

        _ring[slot + 1] += cost;
        ExpiresAtMs = (segment + rule.Segments + 1) * rule.SegmentMilliseconds;
    }

    /// <summary>
    /// Takes back permits added at <paramref name="acquiredAtMs"/>, if their window or segment is still held (for a
    /// token bucket, if the bucket may still hold them at <paramref name="nowMs"/>).
    /// </summary>
    public void Subtract(RateLimitRule rule, long acquiredAtMs, long cost, long nowMs)
    {
        if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            BucketSubtract(rule, acquiredAtMs, cost, nowMs);
            return;
        }

        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            if (_index == WindowMath.FloorDiv(acquiredAtMs, rule.WindowMilliseconds))
            {
                _count = Math.Max(0, _count - cost);
            }

            return;
        }

        long segment = WindowMath.FloorDiv(acquiredAtMs, rule.SegmentMilliseconds);
        int slot = 2 * (int)WindowMath.Mod(segment, _ringSlots);
        if (_ring![slot] == segment)
        {
            _ring[slot + 1] = Math.Max(0, _ring[slot + 1] - cost);
        }
    }

    private static RateLimitDecision Allowed(Span<RateLimitEntry> results, long count, long limit, long resetAtMs, long nowMs, bool commit)
    {
        if (!results.IsEmpty)
        {
            results[0] = new RateLimitEntry(true, count, limit, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(resetAtMs));
        }

        return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(nowMs), commit ? NextAcquisitionId() : 0);
    }

    private static RateLimitDecision Denied(Span<RateLimitEntry> results, long count, long limit, TimeSpan retryAfter, long resetAtMs, long nowMs)
    {
        if (!results.IsEmpty)
        {
            results[0] = new RateLimitEntry(false, count, limit, retryAfter, WindowMath.FromUnixMilliseconds(resetAtMs));
        }

        return new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, retryAfter, WindowMath.FromUnixMilliseconds(nowMs));
    }

    /// <summary>
    /// The index of the window or segment that <paramref name="nowMs"/> falls into, remembered with its ring slot. The
    /// caller holds the lock, like every other member that touches state.
    /// </summary>
    private long IndexAt(long nowMs)
    {
        if (nowMs >= _currentStartMs && nowMs < _currentEndMs)
        {
            return _currentIndex;
        }

        long index = WindowMath.FloorDiv(nowMs, _lengthMs);
        _currentIndex = index;
        _currentStartMs = index * _lengthMs;
        _currentEndMs = _currentStartMs + _lengthMs;
        if (_ring is not null)
        {
            _currentSlot = 2 * (int)WindowMath.Mod(index, _ringSlots);
        }

        return index;
    }
}
