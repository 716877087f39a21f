namespace EmailGuard.Testing.Time;

/// <summary>
/// Fixed windows for tests that count on the real clock (a Redis store on the server's <c>TIME</c>) and read their
/// counters back seconds later: windows of about a day, sized so that the instant they are made for falls at the middle
/// of its window, so no window boundary comes within half a window (12 hours) of it.
/// </summary>
/// <remarks>
/// A fixed window starts at a multiple of its length since the Unix epoch. With exactly a day, a run that crosses
/// midnight UTC counts its first writes in one window and reads (or counts) the rest in the next: an exact count then
/// fails, at any hour for hourly windows and once a day for daily ones, and a CI run starts at any hour. Choosing the
/// length instead (a day, give or take a few seconds) puts now in the middle of the window containing it.
/// The server's clock is this machine's (a local <c>redis-server</c>) or agrees with it within seconds, far less than
/// the half window of margin.
/// </remarks>
public static class CenteredWindow
{
    /// <summary>About a day, so that the moment the test process first asks is at the middle of its window: no boundary falls within 12 hours of it.</summary>
    public static TimeSpan Day { get; } = Around(TimeSpan.FromDays(1), TimeProvider.System.GetUtcNow());

    /// <summary>A fixed rule of <paramref name="limit"/> per <see cref="Day"/>, for the tests that count per day on the real clock.</summary>
    /// <param name="limit">The permits per window.</param>
    /// <returns>The rule.</returns>
    public static RateLimitRule PerDay(long limit) => RateLimitRule.FixedWindow(limit, Day);

    /// <summary>
    /// A window of about <paramref name="about"/> (a whole number of milliseconds) whose fixed window containing
    /// <paramref name="now"/> has <paramref name="now"/> at its middle, give or take as many milliseconds as there are
    /// such windows since the epoch: about 21 s for a day, so meant for windows of a day or longer.
    /// </summary>
    /// <param name="about">The length wanted, at least a second.</param>
    /// <param name="now">The instant to centre.</param>
    /// <returns>The window's length.</returns>
    public static TimeSpan Around(TimeSpan about, DateTimeOffset now) => Ending(about, now, TimeSpan.FromTicks(about.Ticks / 2));

    /// <summary>
    /// A window of about <paramref name="about"/> whose fixed window containing <paramref name="now"/> ends at least
    /// <paramref name="before"/> after it, and at most as many more milliseconds as there are such windows since the
    /// epoch (a day: about 21 s; a year: under 60 ms): for showing what a boundary inside a test run does to it.
    /// </summary>
    /// <param name="about">The length wanted, at least a second.</param>
    /// <param name="now">The instant to place.</param>
    /// <param name="before">How long before the window's end <paramref name="now"/> is at least; less than <paramref name="about"/>.</param>
    /// <returns>The window's length.</returns>
    public static TimeSpan Ending(TimeSpan about, DateTimeOffset now, TimeSpan before)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(about, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(before, about);

        // The window index m is now's index for a window of exactly `about`; the window then ends at (m + 1) * length,
        // which is `before` after now when length = (now + before) / (m + 1). Whole milliseconds round that up, which
        // moves the end later by at most m + 1 milliseconds, and now stays in window m as long as that is under `about`.
        long nowMs = now.ToUnixTimeMilliseconds();
        long aboutMs = (long)about.TotalMilliseconds;
        long index = nowMs / aboutMs;
        long end = nowMs + (long)before.TotalMilliseconds;
        return TimeSpan.FromMilliseconds((end + index) / (index + 1));
    }
}
