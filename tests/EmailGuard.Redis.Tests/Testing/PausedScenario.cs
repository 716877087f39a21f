using System.Diagnostics;
using EmailGuard.Testing.Redis;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace EmailGuard.Redis.Tests.Testing;

/// <summary>
/// One attempt at a scenario that needs the paused test server to be still paused at some moment of it: callers
/// queued behind a script in flight, a waiter cancelled before its leader's answer. A short pause (300 ms) is cheap on
/// every run, but the test process can stall (a GC, a thread pool starved on a loaded two-core machine) for longer, and
/// then the server answered before the scenario happened: that attempt's outcome says nothing about the store. The
/// scenario then runs again on keys of its own, up to <see cref="Attempts"/> times, instead of failing for a reason
/// that is not a bug.
/// </summary>
/// <remarks>
/// The premise is judged by the clock alone, never by the outcome under test, so a broken store still fails the first
/// attempt whose premise held. Time is measured from no later than the pause's own start: on Redis from just before
/// <c>CLIENT PAUSE</c> is sent (Redis times it from when it reads the command), on Garnet from once every thread of it
/// has stopped (it is resumed a full pause after that). While less than the pause has elapsed, the server is certainly
/// still holding every command.
/// </remarks>
internal sealed class PausedScenario
{
    /// <summary>How many times a scenario runs before its last attempt is asserted whatever happened.</summary>
    public const int Attempts = 3;

    private readonly RedisServerFixture _redis;
    private readonly Stopwatch _sincePauseAsked = new();
    private string? _missed;

    private PausedScenario(RedisServerFixture redis, int attempt)
    {
        _redis = redis;
        Attempt = attempt;
    }

    /// <summary>The attempt, from 1.</summary>
    public int Attempt { get; }

    /// <summary>The length of the last pause asked for.</summary>
    public TimeSpan Pause { get; private set; }

    /// <summary>What happened too late in the pause for the scenario to hold, or <see langword="null"/> while it holds.</summary>
    public string? Missed => _missed;

    /// <summary>
    /// Runs <paramref name="scenario"/> until an attempt's premise holds, at most <see cref="Attempts"/> times; each
    /// repeat is written to <paramref name="output"/>. An attempt ends early by <see cref="AssertPremiseOrRunAgain"/>.
    /// </summary>
    /// <param name="redis">The server the scenario pauses.</param>
    /// <param name="output">Where repeats are told of.</param>
    /// <param name="scenario">Arranges on keys of the attempt (<see cref="Prefix"/>), acts, checks its premise, asserts.</param>
    /// <returns>A task that completes when an attempt has passed.</returns>
    public static async Task RunAsync(RedisServerFixture redis, ITestOutputHelper output, Func<PausedScenario, Task> scenario)
    {
        for (int attempt = 1; ; attempt++)
        {
            PausedScenario run = new(redis, attempt);
            try
            {
                await scenario(run);
                if (run._missed is not null)
                {
                    output.WriteLine($"Attempt {attempt}: {run._missed}, so the scenario may not have happened; it passed anyway.");
                }

                return;
            }
            catch (Exception ex) when (run._missed is not null && (ex is RunAgainException || attempt < Attempts))
            {
                // An attempt that failed before it checked its premise, and whose premise did not hold, says nothing either.
                string failed = ex is RunAgainException ? string.Empty : $" (it failed first: {ex.GetType().Name})";
                output.WriteLine($"Attempt {attempt}: {run._missed}, so the scenario did not happen{failed}; running it again on fresh keys.");
            }
            catch (Exception ex) when (run._missed is not null)
            {
                throw new XunitException(
                    $"The scenario's premise did not hold in any of {Attempts} attempts (the last: {run._missed}): the test process stalled for "
                    + $"longer than the pause each time, or the pause did not hold the server. The last attempt then failed:{Environment.NewLine}{ex}");
            }
        }
    }

    /// <summary>A key prefix of this attempt's own under <paramref name="testPrefix"/>, so that no attempt meets the keys of one before it.</summary>
    /// <param name="testPrefix">The test's prefix.</param>
    /// <returns>The attempt's prefix.</returns>
    public string Prefix(string testPrefix) => $"{testPrefix}a{Attempt}:";

    /// <summary>Pauses the server for <paramref name="duration"/> and starts timing the pause.</summary>
    /// <param name="duration">How long the server holds commands.</param>
    /// <param name="writesOnly">As <see cref="RedisServerFixture.PauseAsync"/>.</param>
    /// <returns>A task that completes once the pause has begun.</returns>
    public async Task PauseAsync(TimeSpan duration, bool writesOnly = false)
    {
        await _redis.PrepareToPauseAsync();
        Pause = duration;
        _sincePauseAsked.Restart();
        await _redis.PauseAsync(duration, writesOnly);
        if (_redis.IsGarnet)
        {
            // Frozen once every thread has stopped, which can take a while; resumed a full pause after that.
            _sincePauseAsked.Restart();
        }
    }

    /// <summary>
    /// Records the premise that the server is still paused now, with at least <paramref name="left"/> of the pause to
    /// go; the first moment it was not is what <see cref="Missed"/> reports.
    /// </summary>
    /// <param name="what">What has just happened, as in "the 40 callers were queued".</param>
    /// <param name="left">How much of the pause must be left (a queue timeout that must run out meanwhile).</param>
    public void ExpectStillPaused(string what, TimeSpan left = default)
    {
        TimeSpan elapsed = _sincePauseAsked.Elapsed;
        if (_missed is null && elapsed + left >= Pause)
        {
            string margin = left > TimeSpan.Zero ? $" (needing {left.TotalMilliseconds:F0} ms of it left)" : string.Empty;
            _missed = $"{what} {elapsed.TotalMilliseconds:F0} ms after a {Pause.TotalMilliseconds:F0} ms pause was asked for{margin}";
        }
    }

    /// <summary>
    /// Ends the attempt, to run the scenario again, when its premise did not hold and attempts are left; call it
    /// between acting and asserting. The last attempt is asserted whatever happened.
    /// </summary>
    public void AssertPremiseOrRunAgain()
    {
        if (_missed is not null && Attempt < Attempts)
        {
            throw new RunAgainException();
        }
    }

    /// <summary>Ends an attempt whose premise did not hold.</summary>
    private sealed class RunAgainException : Exception
    {
    }
}
