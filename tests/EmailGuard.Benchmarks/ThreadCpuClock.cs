using System.Runtime.InteropServices;

namespace EmailGuard.Benchmarks;

/// <summary>
/// The CPU time of the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>): on a machine loaded by other
/// work it leaves out the time the thread waits for a core, which makes a batch's wall time swing several-fold. Cache
/// and core sharing still slow the thread, so it is a second view next to the wall time, not a replacement.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTime = 3;

    /// <summary>Whether the clock can be read here (Linux).</summary>
    public static bool IsAvailable { get; } = OperatingSystem.IsLinux() && TryRead(out _);

    /// <summary>The thread's CPU time in nanoseconds; 0 where <see cref="IsAvailable"/> is false.</summary>
    public static long Nanoseconds() => IsAvailable && TryRead(out long nanoseconds) ? nanoseconds : 0;

    private static bool TryRead(out long nanoseconds)
    {
        nanoseconds = 0;
        try
        {
            if (NativeMethods.clock_gettime(ClockThreadCpuTime, out TimeSpec time) != 0)
            {
                return false;
            }

            nanoseconds = (time.Seconds * 1_000_000_000) + time.Nanoseconds;
            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static class NativeMethods
    {
        [DllImport("libc", SetLastError = false)]
        public static extern int clock_gettime(int clockId, out TimeSpec time);
    }
}
