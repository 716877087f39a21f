using StackExchange.Redis;

namespace EmailGuard.Testing.Time;

/// <summary>
/// Waits out the end of a fixed window on a real clock when a test would otherwise start too close to it, for the tests
/// that count on a real clock (Redis's <c>TIME</c>, the system clock of an app or a dashboard host) in windows they
/// cannot trade for a <see cref="CenteredWindow"/>: a window whose exact length is the subject, or a host's hourly
/// rules that its tests describe.
/// </summary>
/// <remarks>
/// A fixed window starts at a multiple of its length since the Unix epoch, so a test that counts permits across a
/// window's end counts part of them in the next window, and a reservation whose slot falls past its window's end is
/// denied (docs/pacing.md). An hour's end is also a day's end. The wait happens only within <c>margin</c> of the end,
/// so a suite pays it at most once per window end it reaches, and rarely: 30 s of each hour is under 1 % of runs.
/// </remarks>
public static class WindowEnd
{
    /// <summary>The margin before the end of the hour that <see cref="ClearOfTheHourAsync()"/> keeps: far more than a test takes on a loaded machine.</summary>
    public static readonly TimeSpan HourMargin = TimeSpan.FromSeconds(30);

    /// <summary>What is waited past a window's end, so that the next window has surely begun on a clock read a moment later.</summary>
    private const long PastTheEndMs = 250;

    /// <summary>
    /// How long a test that would start at <paramref name="now"/> waits so that the fixed window of length
    /// <paramref name="window"/> it runs in ends at least <paramref name="margin"/> later: zero when it already does,
    /// else until a quarter of a second into the next window.
    /// </summary>
    /// <param name="now">The clock's reading.</param>
    /// <param name="window">The window's length, a whole number of milliseconds.</param>
    /// <param name="margin">How long the test may take; less than <paramref name="window"/>.</param>
    /// <returns>The time to wait.</returns>
    public static TimeSpan WaitBefore(DateTimeOffset now, TimeSpan window, TimeSpan margin)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(margin, window);
        long windowMs = (long)window.TotalMilliseconds;
        long toEnd = windowMs - (now.ToUnixTimeMilliseconds() % windowMs);
        return toEnd < (long)margin.TotalMilliseconds ? TimeSpan.FromMilliseconds(toEnd + PastTheEndMs) : TimeSpan.Zero;
    }

    /// <summary>Waits, when the system clock is within <see cref="HourMargin"/> of the end of an hour, until the next hour has begun.</summary>
    /// <returns>A task that completes when at least <see cref="HourMargin"/> is left in the hour.</returns>
    public static Task ClearOfTheHourAsync() => ClearOfAsync(TimeSpan.FromHours(1), HourMargin);

    /// <summary>As <see cref="ClearOfTheHourAsync()"/>, blocking, for a host started synchronously.</summary>
    public static void ClearOfTheHour() => Thread.Sleep(WaitBefore(TimeProvider.System.GetUtcNow(), TimeSpan.FromHours(1), HourMargin));

    /// <summary>Waits, when Redis's clock is within <see cref="HourMargin"/> of the end of an hour, until the next hour has begun.</summary>
    /// <param name="server">The server whose <c>TIME</c> the store counts on.</param>
    /// <returns>A task that completes when at least <see cref="HourMargin"/> is left in the server's hour.</returns>
    public static Task ClearOfTheHourAsync(IServer server) => ClearOfAsync(server, TimeSpan.FromHours(1), HourMargin);

    /// <summary>Waits, when the system clock is within <paramref name="margin"/> of the end of its fixed window of <paramref name="window"/>, until the next one has begun.</summary>
    /// <param name="window">The window's length.</param>
    /// <param name="margin">How long the test may take.</param>
    /// <returns>A task that completes when at least <paramref name="margin"/> is left in the window.</returns>
    public static Task ClearOfAsync(TimeSpan window, TimeSpan margin)
        => Task.Delay(WaitBefore(TimeProvider.System.GetUtcNow(), window, margin), TimeProvider.System);

    /// <summary>Waits, when Redis's clock is within <paramref name="margin"/> of the end of its fixed window of <paramref name="window"/>, until the next one has begun.</summary>
    /// <param name="server">The server whose <c>TIME</c> the store counts on (a local one: its clock is this machine's).</param>
    /// <param name="window">The window's length.</param>
    /// <param name="margin">How long the test may take.</param>
    /// <returns>A task that completes when at least <paramref name="margin"/> is left in the server's window.</returns>
    public static async Task ClearOfAsync(IServer server, TimeSpan window, TimeSpan margin)
    {
        DateTimeOffset now = new(await server.TimeAsync(), TimeSpan.Zero);
        await Task.Delay(WaitBefore(now, window, margin), TimeProvider.System);
    }
}
