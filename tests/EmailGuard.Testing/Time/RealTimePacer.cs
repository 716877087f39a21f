using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Testing.Time;

/// <summary>
/// Keeps a fake clock from falling far behind the real one during a long randomized run against a store that expires
/// keys by the server's real clock (Redis, Garnet).
/// </summary>
/// <remarks>
/// A Redis store gives each key a TTL of the time its fake-clock state stays relevant plus a grace of one second. A run
/// of thousands of operations advances the fake clock several times faster than real time, so TTLs are ample, until the
/// machine stalls: a second-long pause (a loaded CI runner, a GC, a server fsync) between two operations that advance
/// the fake clock by a few milliseconds expires a key in real time that the test's model, on the fake clock, still
/// counts. The pacer lets the fake clock run ahead freely but never lets it lose more than <see cref="MaxLag"/> on real
/// time since its furthest lead, so a key's TTL always outlasts the fake time it represents.
/// </remarks>
public sealed class RealTimePacer
{
    /// <summary>How far the fake clock may fall behind real time from its furthest lead: half the stores' grace.</summary>
    public static readonly TimeSpan MaxLag = TimeSpan.FromMilliseconds(500);

    private readonly FakeTimeProvider _time;
    private readonly long _realStart = Stopwatch.GetTimestamp();
    private readonly DateTimeOffset _fakeStart;
    private TimeSpan _furthestLead;

    /// <summary>Starts pacing <paramref name="time"/> from now.</summary>
    /// <param name="time">The fake clock the test advances.</param>
    public RealTimePacer(FakeTimeProvider time)
    {
        _time = time;
        _fakeStart = time.GetUtcNow();
    }

    /// <summary>How many times the fake clock had to be moved forward to keep up.</summary>
    public int CatchUps { get; private set; }

    /// <summary>Call before each operation, after the test's own advance: moves the fake clock forward if it lags.</summary>
    public void KeepUp()
    {
        TimeSpan lead = (_time.GetUtcNow() - _fakeStart) - Stopwatch.GetElapsedTime(_realStart);
        if (lead > _furthestLead)
        {
            _furthestLead = lead;
        }
        else if (lead < _furthestLead - MaxLag)
        {
            _time.Advance(_furthestLead - MaxLag - lead);
            CatchUps++;
        }
    }
}
