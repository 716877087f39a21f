// Over 300 lines on purpose: one sketch whose windowing (fixed, sliding buckets, token-bucket arrival times) must never count a permit for less time than InMemoryCounter does; its cell arithmetic reads in one place.
using System.Numerics;
using System.Runtime.InteropServices;

namespace EmailGuard;

/// <summary>
/// Counts the keys of one rule shape that found the in-memory store full: a count-min sketch with conservative update,
/// windowed like the rule. It can only over-count a key, never under-count it, so a key decided here is never admitted
/// beyond its limit; what a flood of keys costs is precision (innocent keys that share cells with flood keys look
/// busier than they are), not memory and not availability.
/// </summary>
/// <remarks>
/// <para>
/// Each of <see cref="Depth"/> rows maps a key to one cell; a key's estimate is the smallest of its cells. An update
/// raises only the cells below the new estimate (conservative update), which keeps estimates far tighter than plain
/// count-min under a flood of distinct keys. Columns come from two per-process randomized string hashes, so an attacker
/// cannot compute keys that collide with a victim's.
/// </para>
/// <para>
/// A fixed window keeps one generation of cells, cleared when the window changes. A sliding window of S segments
/// keeps generations ("buckets") of up to S / 2 segments each and counts every bucket that overlaps the trailing window,
/// which counts a permit for no less time than the exact counter would. Memory is fixed at creation:
/// buckets × <see cref="Depth"/> × width × 4 bytes.
/// </para>
/// <para>Every member is called with the shape that owns the sketch locked.</para>
/// </remarks>
internal sealed partial class InMemoryOverflowSketch
{
    public const int Depth = 4;

    /// <summary>A cell that reached <see cref="int.MaxValue"/> no longer knows its count; it is read as this, which denies any limit.</summary>
    public const long Saturated = RateLimitRule.MaxLimit + 1;

    private const int MinWidth = 1 << 10;
    private const int MaxWidth = 1 << 20;
    private const int MaxSlidingBuckets = 2;

    private readonly int[] _cells;
    private readonly long[] _tags;
    private readonly int _slots;
    private readonly int _width;
    private readonly int _widthShift;
    private readonly int _slotLength;
    private readonly long _segmentMs;
    private readonly int _segments;
    private readonly int _segmentsPerBucket;

    /// <param name="shape">The rule shape counted here; its limit does not matter.</param>
    /// <param name="width">The cells per row, a power of two (see <see cref="WidthFor"/>).</param>
    public InMemoryOverflowSketch(RateLimitRule shape, int width)
    {
        if (!BitOperations.IsPow2(width) || width < MinWidth || width > MaxWidth)
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, "The width must be a power of two within bounds.");
        }

        // A fixed window is treated as a sliding window of one segment that counts only the current segment (S = 0).
        if (shape.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            _intervalUs = shape.EmissionIntervalMicroseconds;
            _bucketUs = shape.BucketIntervalMicroseconds;
            _tats = new long[Depth * width];
            Array.Fill(_tats, TokenBucketMath.Empty);
            _segmentMs = 1;
            _segmentsPerBucket = 1;
        }
        else if (shape.Algorithm == RateLimitAlgorithm.SlidingWindow)
        {
            _segmentMs = shape.SegmentMilliseconds;
            _segments = shape.Segments;
            _segmentsPerBucket = (_segments + MaxSlidingBuckets - 1) / MaxSlidingBuckets;

            // Segments c - S .. c span at most ceil(S / k) + 1 buckets of k segments.
            _slots = ((_segments + _segmentsPerBucket - 1) / _segmentsPerBucket) + 1;
        }
        else
        {
            _segmentMs = shape.WindowMilliseconds;
            _segments = 0;
            _segmentsPerBucket = 1;
            _slots = 1;
        }

        _width = width;
        _widthShift = 64 - BitOperations.Log2((uint)width);
        _slotLength = Depth * width;
        _cells = _tats is null ? new int[_slots * _slotLength] : [];
        _tags = new long[_slots];
        Array.Fill(_tags, long.MinValue);
    }

    /// <summary>The bytes the sketch holds.</summary>
    public long Bytes => (_cells.Length * (long)sizeof(int)) + (_tags.Length * (long)sizeof(long)) + ((_tats?.Length ?? 0) * (long)sizeof(long));

    /// <summary>
    /// The row width for a store that tracks <paramref name="maxTrackedKeys"/> keys exactly: twice that, rounded up to a
    /// power of two, within 1,024 and 1,048,576 cells.
    /// </summary>
    public static int WidthFor(int maxTrackedKeys)
        => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(2L * maxTrackedKeys, MinWidth, MaxWidth));

    /// <summary>The permits counted for <paramref name="key"/> at <paramref name="nowMs"/>: never fewer than it took.</summary>
    public long CountAt(string key, long nowMs)
    {
        if (_tats is not null)
        {
            return BucketCountAt(key, nowMs);
        }

        Columns columns = new(key, _widthShift);
        (_, long first, long last) = Counted(nowMs);
        long sum = 0;
        for (long bucket = first; bucket <= last; bucket++)
        {
            sum += EstimateIn(bucket, in columns);
        }

        return Math.Min(sum, Saturated);
    }

    /// <summary>Counts <paramref name="cost"/> more permits for <paramref name="key"/> at <paramref name="nowMs"/>.</summary>
    public void Add(string key, long nowMs, long cost)
    {
        if (_tats is not null)
        {
            BucketAdd(key, nowMs, cost);
            return;
        }

        Columns columns = new(key, _widthShift);
        long bucket = WindowMath.FloorDiv(WindowMath.FloorDiv(nowMs, _segmentMs), _segmentsPerBucket);
        int slot = (int)WindowMath.Mod(bucket, _slots);
        int offset = slot * _slotLength;
        if (_tags[slot] != bucket)
        {
            // The slot held a bucket that has left every window that can still be asked about (or, after the clock
            // went back, one from the future, which an exact counter would drop the same way).
            Array.Clear(_cells, offset, _slotLength);
            _tags[slot] = bucket;
        }

        int estimate = int.MaxValue;
        for (int row = 0; row < Depth; row++)
        {
            estimate = Math.Min(estimate, _cells[offset + (row * _width) + columns[row]]);
        }

        int raised = (int)Math.Min(estimate + cost, int.MaxValue);
        for (int row = 0; row < Depth; row++)
        {
            ref int cell = ref _cells[offset + (row * _width) + columns[row]];
            if (cell < raised)
            {
                cell = raised;
            }
        }
    }

    /// <summary>
    /// How long until <paramref name="need"/> of the permits counted for <paramref name="key"/> have left the window;
    /// <see cref="TimeSpan.MaxValue"/> when they never will.
    /// </summary>
    public TimeSpan RetryAfter(string key, long nowMs, long need)
    {
        if (_tats is not null)
        {
            return BucketRetryAfter(key, nowMs, need);
        }

        Columns columns = new(key, _widthShift);
        (long current, long first, long last) = Counted(nowMs);
        long freed = 0;
        for (long bucket = first; bucket <= last; bucket++)
        {
            freed += EstimateIn(bucket, in columns);
            if (freed >= need)
            {
                return WindowMath.Milliseconds(LeavesAtMs(bucket, current) - nowMs);
            }
        }

        return TimeSpan.MaxValue;
    }

    /// <summary>When everything counted for <paramref name="key"/> now will have left the window.</summary>
    public long ResetAtMs(string key, long nowMs)
    {
        if (_tats is not null)
        {
            return TokenBucketMath.ResetAtMs(BucketTat(key), nowMs);
        }

        (long current, long first, long last) = Counted(nowMs);
        if (_segments == 0)
        {
            return (current + 1) * _segmentMs;
        }

        Columns columns = new(key, _widthShift);
        for (long bucket = last; bucket >= first; bucket--)
        {
            if (EstimateIn(bucket, in columns) > 0)
            {
                return LeavesAtMs(bucket, current);
            }
        }

        return nowMs;
    }

    /// <summary>When permits counted at <paramref name="nowMs"/> leave the window.</summary>
    public long ExpiresAtMsAfterAdd(string key, long nowMs) => _tats is not null
        ? TokenBucketMath.ResetAtMs(BucketTat(key), nowMs)
        : (WindowMath.FloorDiv(nowMs, _segmentMs) + _segments + 1) * _segmentMs;

    /// <summary>
    /// Gives a new exact counter everything the sketch counts for its key, each bucket's permits in that bucket's latest
    /// segment so they stay counted at least as long as here. The key may have been decided here while the store was
    /// full; starting its counter at zero would reset it.
    /// </summary>
    public void Seed(InMemoryCounter counter, RateLimitRule rule, string key, long nowMs)
    {
        if (_tats is not null)
        {
            counter.SeedBucket(BucketTat(key), _bucketUs);
            return;
        }

        Columns columns = new(key, _widthShift);
        (long current, long first, long last) = Counted(nowMs);
        for (long bucket = first; bucket <= last; bucket++)
        {
            long estimate = EstimateIn(bucket, in columns);
            if (estimate > 0)
            {
                counter.Add(rule, LatestSegment(bucket, current) * _segmentMs, estimate);
            }
        }
    }

    /// <summary>Whether nothing the sketch holds still counts at <paramref name="nowMs"/> or later, so it can be dropped.</summary>
    public bool HoldsNothingAt(long nowMs)
    {
        if (_tats is not null)
        {
            return _latestTatUs <= nowMs * 1000;
        }

        long first = WindowMath.FloorDiv(WindowMath.FloorDiv(nowMs, _segmentMs) - _segments, _segmentsPerBucket);
        foreach (long tag in _tags)
        {
            if (tag != long.MinValue && tag >= first)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The segment of <paramref name="nowMs"/>, and the first and last buckets that count then.</summary>
    private (long Current, long First, long Last) Counted(long nowMs)
    {
        long current = WindowMath.FloorDiv(nowMs, _segmentMs);
        return (current, WindowMath.FloorDiv(current - _segments, _segmentsPerBucket), WindowMath.FloorDiv(current, _segmentsPerBucket));
    }

    private long LatestSegment(long bucket, long current) => Math.Min(((bucket + 1) * _segmentsPerBucket) - 1, current);

    private long LeavesAtMs(long bucket, long current) => (LatestSegment(bucket, current) + _segments + 1) * _segmentMs;

    private long EstimateIn(long bucket, in Columns columns)
    {
        int slot = (int)WindowMath.Mod(bucket, _slots);
        if (_tags[slot] != bucket)
        {
            return 0;
        }

        int offset = slot * _slotLength;
        int estimate = int.MaxValue;
        for (int row = 0; row < Depth; row++)
        {
            estimate = Math.Min(estimate, _cells[offset + (row * _width) + columns[row]]);
        }

        return estimate == int.MaxValue ? Saturated : estimate;
    }

    /// <summary>A key's column in each row, from two 32-bit string hashes that the runtime seeds randomly per process.</summary>
    private readonly struct Columns
    {
        private const ulong RowStep = 0x9E3779B97F4A7C15UL;

        private readonly int _c0;
        private readonly int _c1;
        private readonly int _c2;
        private readonly int _c3;

        public Columns(string key, int widthShift)
        {
            ReadOnlySpan<char> chars = key.AsSpan();
            HashCode second = default;
            second.AddBytes(MemoryMarshal.AsBytes(chars));
            ulong hash = ((ulong)(uint)string.GetHashCode(chars) << 32) | (uint)second.ToHashCode();
            _c0 = (int)(Mix(hash) >> widthShift);
            _c1 = (int)(Mix(hash + RowStep) >> widthShift);
            _c2 = (int)(Mix(hash + unchecked(2 * RowStep)) >> widthShift);
            _c3 = (int)(Mix(hash + unchecked(3 * RowStep)) >> widthShift);
        }

        public int this[int row] => row switch
        {
            0 => _c0,
            1 => _c1,
            2 => _c2,
            _ => _c3,
        };

        // The 64-bit finalizer of MurmurHash3: every input bit affects every output bit.
        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDUL;
            z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53UL;
            return z ^ (z >> 33);
        }
    }
}
