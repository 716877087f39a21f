using EmailGuard.Testing.Time;

namespace EmailGuard.Tests.Testing;

/// <summary>The wait that keeps a test on a real clock clear of its fixed window's end, at instants around that end.</summary>
public sealed class WindowEndTests
{
    private static readonly DateTimeOffset s_hourEnd = new(2026, 12, 7, 13, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan s_hour = TimeSpan.FromHours(1);

    [Theory]
    [InlineData(1, 251)]
    [InlineData(29_999, 30_249)]
    public void WaitBefore_WithinTheMarginOfTheEnd_WaitsUntilAQuarterSecondIntoTheNextWindow(long beforeEndMs, long expectedMs)
    {
        TimeSpan wait = WindowEnd.WaitBefore(s_hourEnd.AddMilliseconds(-beforeEndMs), s_hour, WindowEnd.HourMargin);

        wait.Should().Be(TimeSpan.FromMilliseconds(expectedMs));
        (s_hourEnd.AddMilliseconds(-beforeEndMs) + wait).Should().Be(s_hourEnd.AddMilliseconds(250));
    }

    [Theory]
    [InlineData(30_000)]
    [InlineData(1_800_000)]
    [InlineData(3_600_000)]
    public void WaitBefore_AtLeastTheMarginBeforeTheEnd_DoesNotWait(long beforeEndMs)
    {
        WindowEnd.WaitBefore(s_hourEnd.AddMilliseconds(-beforeEndMs), s_hour, WindowEnd.HourMargin).Should().Be(TimeSpan.Zero);
    }

    [Fact]
    public void WaitBefore_WindowNotAWholeHour_PlacesTheEndOnItsOwnGrid()
    {
        // The 70-minute window whose packed count the server-time tests check: its ends are multiples of its length.
        TimeSpan window = TimeSpan.FromMilliseconds((1L << 22) - 1);
        long end = ((s_hourEnd.ToUnixTimeMilliseconds() / (long)window.TotalMilliseconds) + 1) * (long)window.TotalMilliseconds;

        WindowEnd.WaitBefore(DateTimeOffset.FromUnixTimeMilliseconds(end - 1), window, WindowEnd.HourMargin).Should().Be(TimeSpan.FromMilliseconds(251));
        WindowEnd.WaitBefore(DateTimeOffset.FromUnixTimeMilliseconds(end), window, WindowEnd.HourMargin).Should().Be(TimeSpan.Zero);
    }
}
