using System.Globalization;

namespace EmailGuard;

/// <summary>
/// An immutable limit: at most <see cref="Limit"/> permits per <see cref="Window"/>, counted with <see cref="Algorithm"/>.
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

    /// <summary>
    /// Creates a rule.
    /// </summary>
    /// <param name="limit">The permits admitted per window, from 1 to <see cref="MaxLimit"/>.</param>
    /// <param name="window">The window, a whole number of milliseconds from 1 ms to <see cref="MaxWindow"/>.</param>
    /// <param name="algorithm">How permits are counted.</param>
    /// <param name="segments">
    /// For <see cref="RateLimitAlgorithm.SlidingWindow"/>, the number of segments the window is split into (it must
    /// divide the window into whole milliseconds); 0 picks <see cref="DefaultSlidingSegments"/>, or the largest smaller
    /// number that divides the window. Must be 0 or 1 for a fixed window.
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
            default:
                throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown algorithm.");
        }

        Limit = limit;
        Window = window;
        Algorithm = algorithm;
        Segments = segments;
        WindowMilliseconds = windowMs;
        SegmentMilliseconds = windowMs / segments;
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
    }

    /// <summary>Gets the permits admitted per window.</summary>
    public long Limit { get; }

    /// <summary>Gets the window length.</summary>
    public TimeSpan Window { get; }

    /// <summary>Gets how permits are counted.</summary>
    public RateLimitAlgorithm Algorithm { get; }

    /// <summary>Gets the number of segments: 1 for a fixed window.</summary>
    public int Segments { get; }

    /// <summary>
    /// Gets the rule's shape (algorithm, window, segments) as a short stable string, e.g. <c>f3600000</c> or
    /// <c>s60000x10</c>.
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
    /// <param name="limit">The new limit.</param>
    /// <returns>This instance when the limit is unchanged, else a new rule.</returns>
    public RateLimitRule WithLimit(long limit) => limit == Limit ? this : new(this, limit);

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
        => other is not null && Limit == other.Limit && string.Equals(ShapeId, other.ShapeId, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as RateLimitRule);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Limit, ShapeId);

    /// <inheritdoc />
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Limit}/{Window} {(Algorithm == RateLimitAlgorithm.FixedWindow ? "fixed" : $"sliding x{Segments}")}");
}
