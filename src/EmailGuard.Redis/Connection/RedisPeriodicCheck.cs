namespace EmailGuard.Redis;

/// <summary>
/// The schedule shared by the Redis configuration checks: a check runs in the background at startup and again, at
/// most once a minute, when the health check asks; nothing waits on it, and one that finds no primary to ask, or
/// fails, runs again at the next refresh and keeps the warnings it had.
/// </summary>
internal abstract class RedisPeriodicCheck : IStoreConfigurationCheck
{
    private static readonly TimeSpan s_recheckInterval = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _timeProvider;
    private readonly long _recheckTimestamps;
    private string[] _warnings = [];
    private string _reported = string.Empty;
    private int _running;
    private long _startedAtTimestamp = long.MinValue / 2;

    protected RedisPeriodicCheck(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _recheckTimestamps = (long)(s_recheckInterval.TotalSeconds * timeProvider.TimestampFrequency);
    }

    public IReadOnlyList<string> Warnings => Volatile.Read(ref _warnings);

    /// <summary>The running check, for tests; completed when none runs.</summary>
    internal Task Current { get; private set; } = Task.CompletedTask;

    public void Refresh()
    {
        long now = _timeProvider.GetTimestamp();
        if (now - Volatile.Read(ref _startedAtTimestamp) < _recheckTimestamps || Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        Volatile.Write(ref _startedAtTimestamp, now);
        Current = RunAsync();
    }

    /// <summary>Checks once; returns the warnings, or <see langword="null"/> when no primary answered.</summary>
    protected abstract Task<string[]?> RunOnceAsync();

    /// <summary>Logs a check that failed; a dead server is the breaker's to report.</summary>
    protected abstract void OnFailed(Exception exception);

    /// <summary>
    /// Runs <paramref name="log"/> when what a run found (<paramref name="reported"/>: what it logs, as one string)
    /// differs from what the run before it found: logged when found and when it changes, not at every health check.
    /// </summary>
    protected void LogWhenChanged(string reported, Action log)
    {
        if (!string.Equals(reported, _reported, StringComparison.Ordinal))
        {
            log();
        }

        _reported = reported;
    }

    private async Task RunAsync()
    {
        try
        {
            string[]? warnings = await RunOnceAsync().ConfigureAwait(false);
            if (warnings is null)
            {
                // No primary answered: keep what was known and look again at the next refresh.
                Volatile.Write(ref _startedAtTimestamp, long.MinValue / 2);
                return;
            }

            Volatile.Write(ref _warnings, warnings);
        }
        catch (Exception ex)
        {
            Volatile.Write(ref _startedAtTimestamp, long.MinValue / 2);
            OnFailed(ex);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
