// Over 300 lines on purpose: the three algorithms' parameters and the arithmetic the stores share (window and
// segment indexes, the token bucket's emission interval) belong to one immutable type that both stores read.

using System.Globalization;

namespace EmailGuard;

/// <summary>
/// An immutable limit: at most <see cref="Limit"/> permits per <see cref="Window"/>, counted with <see cref="Algorithm"/>;
/// for a token bucket, a burst of <see cref="Limit"/> refilled at <see cref="Rate"/> permits per <see cref="Window"/>.
/// </summary>
/// <remarks>
/// Counters are identified by the key and the rule's <em>shape</em> (algorithm, window and segments), never by its
/// limit. A rule with a reduced limit (a flagged user, a tenant override) therefore reads and writes the same counter
/// as the normal rule, and lowering a limit takes effect at once.
/// </remarks>
public sealed class RateLimitRule : IEquatable<RateLimitRule>
{
    /// <summary>The largest limit a rule accepts (2^40); larger numbers are not rate limits.</summary>
    public const long MaxLimit = 1L << 40;

    /// <summary>The largest number of segments a sliding window accepts.</summary>
    public const int MaxSegments = 1000;

    /// <summary>The number of segments a sliding window uses when none is given.</summary>
    public const int DefaultSlidingSegments = 10;

    /// <summary>The longest window a rule accepts: 366 days.</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(366);

    // A full token bucket refills in at most twice the longest window: keeps every GCRA time below 2^53 microseconds,
    // exact in the Lua numbers of the Redis scripts.
    private static readonly long s_maxRefillMicroseconds = 2 * MaxWindow.Ticks / 10;

    /// <summary>
    /// Creates a rule.
    /// </summary>
    /// <param name="limit">The permits admitted per window, from 1 to <see cref="MaxLimit"/>.</param>
    /// <param name="window">The window, a whole number of milliseconds from 1 ms to <see cref="MaxWindow"/>.</param>
    /// <param name="algorithm">How permits are counted.</param>
    /// <param name="segments">
    /// For <see cref="RateLimitAlgorithm.SlidingWindow"/>, the number of segments the window is split into (it must
    /// divide the window into whole milliseconds); 0 picks <see cref="DefaultSlidingSegments"/>, or the largest smaller
    /// number that divides the window. Must be 0 or 1 for a fixed window and a token bucket; a token bucket built here
    /// refills <paramref name="limit"/> permits per <paramref name="window"/> and bursts up to <paramref name="limit"/>
    /// (use <see cref="TokenBucket"/> for another burst).
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside the range described above.</exception>
    /// <exception cref="ArgumentException">The segments do not divide the window into whole milliseconds.</exception>
    public RateLimitRule(long limit, TimeSpan window, RateLimitAlgorithm algorithm = RateLimitAlgorithm.FixedWindow, int segments = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxLimit);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(window, MaxWindow);
        if (window.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            throw new ArgumentException($"The window must be a whole number of milliseconds; {window} is not.", nameof(window));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(segments);
        long windowMs = window.Ticks / TimeSpan.TicksPerMillisecond;
        switch (algorithm)
        {
            case RateLimitAlgorithm.FixedWindow:
                ArgumentOutOfRangeException.ThrowIfGreaterThan(segments, 1);
                segments = 1;
                ShapeId = string.Create(CultureInfo.InvariantCulture, $"f{windowMs}");
                break;
            case RateLimitAlgorithm.SlidingWindow:
                if (segments == 0)
                {
                    segments = DefaultSegmentsFor(windowMs);
                }

                ArgumentOutOfRangeException.ThrowIfGreaterThan(segments, MaxSegments);
                if (windowMs % segments != 0)
                {
                    throw new ArgumentException(
                        $"{segments} segments do not divide a window of {windowMs} ms into whole milliseconds.", nameof(segments));
                }

                ShapeId = string.Create(CultureInfo.InvariantCulture, $"s{windowMs}x{segments}");
                break;
            case RateLimitAlgorithm.TokenBucket:
                ArgumentOutOfRangeException.ThrowIfGreaterThan(segments, 1);
                segments = 1;
                EmissionIntervalMicroseconds = IntervalFor(limit, windowMs);
                BucketIntervalMicroseconds = EmissionIntervalMicroseconds;
                CheckRefill(limit, EmissionIntervalMicroseconds, nameof(limit));

                // The window, not the rate: a bucket whose limit, burst or rate changes keeps its state (converted by
                // BucketIntervalMicroseconds), as a window rule whose limit changes keeps its counter. Never "t" and
                // digits: that was the name of a bucket of one rate before, whose keys held a bare TAT.
                ShapeId = string.Create(CultureInfo.InvariantCulture, $"tw{windowMs}");
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown algorithm.");
        }

        Limit = limit;
        Rate = limit;
        Window = window;
        Algorithm = algorithm;
        Segments = segments;
        WindowMilliseconds = windowMs;
        SegmentMilliseconds = windowMs / segments;
    }

    // A token bucket of another burst than its rate.
    private RateLimitRule(long rate, TimeSpan period, long burst)
        : this(rate, period, RateLimitAlgorithm.TokenBucket)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(burst, MaxLimit);
        CheckRefill(burst, EmissionIntervalMicroseconds, nameof(burst));
        Limit = burst;
    }

    // Shares the shape's ShapeId string, so stores that remember shapes by reference recognize a reduced rule at once.
    private RateLimitRule(RateLimitRule shape, long limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxLimit);
        Limit = limit;
        Window = shape.Window;
        Algorithm = shape.Algorithm;
        Segments = shape.Segments;
        ShapeId = shape.ShapeId;
        WindowMilliseconds = shape.WindowMilliseconds;
        SegmentMilliseconds = shape.SegmentMilliseconds;
        Rate = limit;
        BucketIntervalMicroseconds = shape.BucketIntervalMicroseconds;
        if (Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            // The rate scales with the burst, so a rule at a tenth of the limit also refills at a tenth of the rate,
            // and the bucket still takes as long to refill; the shared TAT is a time, which any interval can read.
            EmissionIntervalMicroseconds = ((shape.EmissionIntervalMicroseconds * shape.Limit) + limit - 1) / limit;
            Rate = Math.Max(1, (long)((double)shape.Rate * limit / shape.Limit));
            CheckRefill(limit, EmissionIntervalMicroseconds, nameof(limit));
        }
    }

    // A token bucket refilled at another's rate that holds another burst (WithBurstAtSameRate).
    private RateLimitRule(long burst, RateLimitRule bucket)
    {
        CheckRefill(burst, bucket.EmissionIntervalMicroseconds, nameof(burst));
        Limit = burst;
        Rate = bucket.Rate;
        Window = bucket.Window;
        Algorithm = RateLimitAlgorithm.TokenBucket;
        Segments = 1;
        ShapeId = bucket.ShapeId;
        WindowMilliseconds = bucket.WindowMilliseconds;
        SegmentMilliseconds = bucket.SegmentMilliseconds;
        EmissionIntervalMicroseconds = bucket.EmissionIntervalMicroseconds;
        BucketIntervalMicroseconds = bucket.BucketIntervalMicroseconds;
    }

    // A copy of a rule that is a tally (AsTally).
    private RateLimitRule(RateLimitRule rule)
    {
        Limit = rule.Limit;
        Rate = rule.Rate;
        Window = rule.Window;
        Algorithm = rule.Algorithm;
        Segments = rule.Segments;
        ShapeId = rule.ShapeId;
        WindowMilliseconds = rule.WindowMilliseconds;
        SegmentMilliseconds = rule.SegmentMilliseconds;
        EmissionIntervalMicroseconds = rule.EmissionIntervalMicroseconds;
        BucketIntervalMicroseconds = rule.BucketIntervalMicroseconds;
        IsTally = true;
    }

    /// <summary>
    /// Gets the permits admitted per window; for a token bucket, its burst: the most permits it holds, and so the most
    /// admitted at one instant.
    /// </summary>
    public long Limit { get; }

    /// <summary>
    /// Gets the permits a token bucket refills per <see cref="Window"/>; for a window rule, its <see cref="Limit"/>.
    /// A reduced rule (<see cref="WithLimit"/>) scales the rate with the burst.
    /// </summary>
    public long Rate { get; }

    /// <summary>
    /// Gets the time a token bucket takes to refill one permit, in whole microseconds: <see cref="Window"/> divided by
    /// <see cref="Rate"/>, rounded up, so the bucket never refills faster than configured. 0 for a window rule.
    /// </summary>
    public long EmissionIntervalMicroseconds { get; }

    /// <summary>
    /// Gets the emission interval of the bucket this rule was reduced from (<see cref="WithLimit"/>), or its own when
    /// it was not reduced, in whole microseconds; 0 for a window rule. A store keeps a bucket's state as a TAT together
    /// with this interval.
    /// </summary>
    /// <value>
    /// A reduced rule reads the TAT that the rule it was made from writes, as a time, with its own longer interval (a
    /// flagged user at a tenth of the burst also refills at a tenth of the rate). A rule of another bucket interval
    /// (the limit, burst, rate or window changed by a reload, a tenant override or an <see cref="ITenantLimitProvider"/>
    /// answer) first converts a TAT written under the old one with
    /// <c>TAT' = now + min(spent × new, max(TAT − now, Limit × EmissionIntervalMicroseconds))</c>, where
    /// <c>spent = ceil((TAT − now) / old)</c> are the permits the bucket holds back: they stay spent, and come back at the
    /// new rate. A lowered bucket holds back at most its whole burst, or the time already owed if that is longer.
    /// </value>
    public long BucketIntervalMicroseconds { get; }

    /// <summary>
    /// Gets how long one permit can keep counting, in milliseconds: the window for a window rule, the time an empty
    /// token bucket takes to refill (<see cref="Limit"/> × <see cref="EmissionIntervalMicroseconds"/>, rounded up)
    /// for a token bucket. Stores size the lifetime of their records (TTLs, refund claims) by it.
    /// </summary>
    public long HoldMilliseconds => Algorithm == RateLimitAlgorithm.TokenBucket
        ? Math.Max(WindowMilliseconds, ((Limit * EmissionIntervalMicroseconds) + 999) / 1000)
        : WindowMilliseconds;

    /// <summary>Gets the window length.</summary>
    public TimeSpan Window { get; }

    /// <summary>Gets how permits are counted.</summary>
    public RateLimitAlgorithm Algorithm { get; }

    /// <summary>
    /// Gets whether the rule is a counter: a fixed or sliding window whose limit is <see cref="MaxLimit"/>, which no
    /// caller reaches, so it never denies. A reservation counts a counter at the time it was decided
    /// (<see cref="RateLimitDecision.DecidedAt"/>) wherever the reserved time lies; a store that implements
    /// <see cref="IRateLimitStore.ReserveAsync"/> treats it so.
    /// </summary>
    public bool IsCounter => Limit == MaxLimit && Algorithm != RateLimitAlgorithm.TokenBucket;

    /// <summary>
    /// Gets whether the rule is a tally (<see cref="AsTally"/>): its count only informs a decision taken elsewhere, so a
    /// count read too high is a wrong decision and one read too low only a missed one. Its limit is one an exact count
    /// never reaches, so it never denies; a store that cannot count its key exactly (the in-memory store when full, whose
    /// overflow sketch can only over-count, and so deny) leaves it uncounted and reads it as 0.
    /// </summary>
    internal bool IsTally { get; }

    /// <summary>Gets the number of segments: 1 for a fixed window.</summary>
    public int Segments { get; }

    /// <summary>
    /// Gets the rule's shape (algorithm, window, segments) as a short stable string, e.g. <c>f3600000</c>,
    /// <c>s60000x10</c> or, for a token bucket, <c>tw1000</c> (its window, whatever its rate and burst).
    /// </summary>
    /// <value>
    /// The same string for every rule of the same shape, whatever its limit, so a store that names its counters by
    /// key and <see cref="ShapeId"/> lets a reduced rule (<see cref="WithLimit"/>) count into the normal rule's
    /// counters. It deliberately leaves the limit out, and its format never changes between versions, since stored
    /// counter names depend on it.
    /// </value>
    public string ShapeId { get; }

    /// <summary>Gets the window length in whole milliseconds: the unit every window calculation uses.</summary>
    public long WindowMilliseconds { get; }

    /// <summary>
    /// Gets the segment length in whole milliseconds: <see cref="WindowMilliseconds"/> divided by
    /// <see cref="Segments"/>, so the whole window for a fixed window.
    /// </summary>
    public long SegmentMilliseconds { get; }

    /// <summary>
    /// Gets the index of the window that holds an instant. Windows are aligned to multiples of the window length since
    /// the Unix epoch (UTC), so every store and every app instance agrees on them: "per day" means per UTC day.
    /// </summary>
    /// <param name="unixTimeMilliseconds">The instant, in milliseconds since the Unix epoch.</param>
    /// <returns>The instant divided by <see cref="WindowMilliseconds"/>, rounded down (also before 1970).</returns>
    public long GetWindowIndex(long unixTimeMilliseconds) => WindowMath.FloorDiv(unixTimeMilliseconds, WindowMilliseconds);

    /// <summary>
    /// Gets the end of the window that holds an instant: when a fixed-window counter starts over, and how long its
    /// key needs to live.
    /// </summary>
    /// <param name="unixTimeMilliseconds">The instant, in milliseconds since the Unix epoch.</param>
    /// <returns>The first millisecond of the next window, in milliseconds since the Unix epoch.</returns>
    public long GetWindowEnd(long unixTimeMilliseconds) => WindowMath.FixedWindowEnd(unixTimeMilliseconds, WindowMilliseconds);

    /// <summary>
    /// Gets the index of the segment that holds an instant. A sliding window of <see cref="Segments"/> segments counts
    /// the segments with indexes from <c>index - Segments + 1</c> to <c>index</c>; segments are aligned to the Unix
    /// epoch like windows.
    /// </summary>
    /// <param name="unixTimeMilliseconds">The instant, in milliseconds since the Unix epoch.</param>
    /// <returns>The instant divided by <see cref="SegmentMilliseconds"/>, rounded down (also before 1970).</returns>
    public long GetSegmentIndex(long unixTimeMilliseconds) => WindowMath.FloorDiv(unixTimeMilliseconds, SegmentMilliseconds);

    /// <summary>The emission interval of <paramref name="rate"/> permits per window, rounded up to a whole microsecond.</summary>
    private static long IntervalFor(long rate, long windowMs) => ((windowMs * 1000) + rate - 1) / rate;

    private static void CheckRefill(long burst, long intervalUs, string paramName)
    {
        if (burst > s_maxRefillMicroseconds / intervalUs)
        {
            throw new ArgumentOutOfRangeException(
                paramName, burst, $"A bucket of {burst} permits, one every {intervalUs} µs, would take longer than twice {MaxWindow} to refill.");
        }
    }

    /// <summary>
    /// The default split of a window: <see cref="DefaultSlidingSegments"/> when it divides the window, else the largest
    /// smaller count that does, so a window such as 1,001 ms works without the caller choosing segments.
    /// </summary>
    private static int DefaultSegmentsFor(long windowMs)
    {
        for (int segments = DefaultSlidingSegments; segments > 1; segments--)
        {
            if (windowMs % segments == 0)
            {
                return segments;
            }
        }

        return 1;
    }

    /// <summary>A fixed-window rule.</summary>
    /// <param name="limit">The permits admitted per window.</param>
    /// <param name="window">The window length.</param>
    /// <returns>The rule.</returns>
    public static RateLimitRule FixedWindow(long limit, TimeSpan window) => new(limit, window);

    /// <summary>A sliding-window rule.</summary>
    /// <param name="limit">The permits admitted in any interval of the window's length.</param>
    /// <param name="window">The window length.</param>
    /// <param name="segments">The number of segments; 0 for <see cref="DefaultSlidingSegments"/>.</param>
    /// <returns>The rule.</returns>
    public static RateLimitRule SlidingWindow(long limit, TimeSpan window, int segments = 0)
        => new(limit, window, RateLimitAlgorithm.SlidingWindow, segments);

    /// <summary>
    /// A token bucket (GCRA): refills <paramref name="rate"/> permits per <paramref name="period"/> and holds at most
    /// <paramref name="burst"/>, e.g. SES's maximum send rate of 14 per second as <c>TokenBucket(14, 1 s, 14)</c>.
    /// </summary>
    /// <param name="rate">The permits refilled per period, from 1 to <see cref="MaxLimit"/>.</param>
    /// <param name="period">The period of the rate, a whole number of milliseconds from 1 ms to <see cref="MaxWindow"/>.</param>
    /// <param name="burst">The most permits the bucket holds, from 1 to <see cref="MaxLimit"/>; an empty bucket must refill within twice <see cref="MaxWindow"/>.</param>
    /// <returns>The rule.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside the range described above.</exception>
    public static RateLimitRule TokenBucket(long rate, TimeSpan period, long burst) => new(rate, period, burst);

    /// <summary>A fixed-window rule of <paramref name="limit"/> per minute.</summary>
    /// <param name="limit">The permits admitted per minute.</param>
    /// <returns>The rule.</returns>
    public static RateLimitRule PerMinute(long limit) => new(limit, TimeSpan.FromMinutes(1));

    /// <summary>A fixed-window rule of <paramref name="limit"/> per hour.</summary>
    /// <param name="limit">The permits admitted per hour.</param>
    /// <returns>The rule.</returns>
    public static RateLimitRule PerHour(long limit) => new(limit, TimeSpan.FromHours(1));

    /// <summary>A fixed-window rule of <paramref name="limit"/> per UTC day.</summary>
    /// <param name="limit">The permits admitted per day.</param>
    /// <returns>The rule.</returns>
    public static RateLimitRule PerDay(long limit) => new(limit, TimeSpan.FromDays(1));

    /// <summary>
    /// Returns a rule of the same shape with another limit. It shares counters with this rule.
    /// </summary>
    /// <remarks>
    /// A token bucket's rate scales with its burst (the emission interval grows as the burst shrinks, rounded up), so a
    /// flagged user at a tenth of the limit also refills at a tenth of the rate.
    /// </remarks>
    /// <param name="limit">The new limit.</param>
    /// <returns>This instance when the limit is unchanged, else a new rule.</returns>
    public RateLimitRule WithLimit(long limit) => limit == Limit ? this : new(this, limit);

    /// <summary>
    /// A token bucket that refills at this one's rate (the same emission interval, unlike <see cref="WithLimit"/>) and
    /// holds up to <paramref name="burst"/> permits, at most what refills within twice <see cref="MaxWindow"/>.
    /// </summary>
    /// <param name="burst">The burst wanted.</param>
    /// <returns>The bucket.</returns>
    internal RateLimitRule WithBurstAtSameRate(long burst)
    {
        System.Diagnostics.Debug.Assert(Algorithm == RateLimitAlgorithm.TokenBucket, "Only a token bucket has a rate of its own.");
        return new(Math.Clamp(burst, 1, Math.Min(MaxLimit, s_maxRefillMicroseconds / EmissionIntervalMicroseconds)), this);
    }

    /// <summary>
    /// This rule as a tally (<see cref="IsTally"/>): the same shape and limit, so the same counters, under every store's
    /// key names.
    /// </summary>
    /// <returns>The tally.</returns>
    internal RateLimitRule AsTally() => IsTally ? this : new(this);

    /// <summary>Whether two rules have the same shape, and so share counters, whatever their limits.</summary>
    /// <param name="other">The other rule.</param>
    /// <returns><see langword="true"/> when both count into the same counters.</returns>
    public bool HasSameShape(RateLimitRule other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return string.Equals(ShapeId, other.ShapeId, StringComparison.Ordinal);
    }

    /// <inheritdoc />
    public bool Equals(RateLimitRule? other)
        => other is not null && Limit == other.Limit && IsTally == other.IsTally && string.Equals(ShapeId, other.ShapeId, StringComparison.Ordinal)
           && EmissionIntervalMicroseconds == other.EmissionIntervalMicroseconds && BucketIntervalMicroseconds == other.BucketIntervalMicroseconds;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as RateLimitRule);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Limit, ShapeId, IsTally, EmissionIntervalMicroseconds);

    /// <inheritdoc />
    public override string ToString() => Algorithm switch
    {
        RateLimitAlgorithm.FixedWindow => string.Create(CultureInfo.InvariantCulture, $"{Limit}/{Window} fixed"),
        RateLimitAlgorithm.SlidingWindow => string.Create(CultureInfo.InvariantCulture, $"{Limit}/{Window} sliding x{Segments}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Rate}/{Window} token bucket, burst {Limit}"),
    };
}
