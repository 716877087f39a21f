using System.Diagnostics;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Real faults against a real redis-server: killed under load and started again, scripts flushed, connections killed.
/// Durations are measured and written to the test output; they are asserted only against a bound far above the
/// timeout (and far below what StackExchange.Redis alone would wait), never against tight thresholds.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisFaultTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Callers = 64;

    /// <summary>StackExchange.Redis alone would hold a call against a dead server for its 10 s command timeout.</summary>
    private static readonly TimeSpan s_looseCallBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_recoveryBound = TimeSpan.FromSeconds(30);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _admin;

    private ConnectionMultiplexer Admin => _admin ??= redis.CreateMultiplexer();

    public Task InitializeAsync()
    {
        redis.CanControlServer.Should().BeTrue(
            "the fault tests stop and start their own redis-server; unset {0} or install redis-server", RedisServerFixture.EnvironmentVariable);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (!redis.CanControlServer)
        {
            return;
        }

        await redis.StartAsync();
        (IReadOnlyList<string> violations, int count) = await RedisKeyTtlAssertions.FindViolationsAsync(
            Admin, _prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        output.WriteLine($"TTL scan: {count} keys under {_prefix}, {violations.Count} violations");
        violations.Should().BeEmpty("every key must carry a TTL, whatever faults happened while it was written");
    }

    [Theory]
    [InlineData(StoreFailureMode.FailOpen)]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task RedisStoppedUnderLoad_EveryCallCompletesWithTheModeOutcome_AndSharedCountingReturnsAfterRestart(StoreFailureMode mode)
    {
        // Arrange: two app instances; 20 per day on one key, so each instance's local share is 10.
        await using RedisAppInstance instance = RedisAppInstance.Create(redis, _prefix);
        await using RedisAppInstance other = RedisAppInstance.Create(redis, _prefix);
        RateLimitRule rule = RateLimitRule.PerDay(20);
        RateLimitRequest[] request = [new("victim", rule)];
        (await instance.Resilient.AcquireAsync(request, default, mode)).Status.Should().Be(RateLimitStatus.Allowed, "Redis is up");

        // Act: 64 callers hammer the key; Redis is killed in the middle.
        ConcurrentLoad load = new();
        load.Start(Callers, maxCallsPerCaller: 400, TimeSpan.FromMilliseconds(5),
            (_, _) => instance.Resilient.AcquireAsync(request, default, mode));
        await Task.Delay(TimeSpan.FromMilliseconds(300), TimeProvider.System);
        redis.Stop();
        long stoppedAt = Stopwatch.GetTimestamp();
        await Task.Delay(TimeSpan.FromSeconds(2), TimeProvider.System);
        await load.StopAsync(s_hangGuard);
        StoreCircuitState stateWhileDown = instance.Resilient.CircuitState;

        await redis.StartAsync();
        long startedAt = Stopwatch.GetTimestamp();
        TimeSpan? recovery = await WaitForSharedCountingAsync(instance, other, mode, startedAt);

        // Assert
        LoadCall[] whileDown = load.Calls.Where(c => c.StartedAt >= stoppedAt).ToArray();
        TimeSpan slowest = whileDown.Max(c => c.Duration);
        output.WriteLine($"{mode}: {load.Calls.Count} calls, {whileDown.Length} while Redis was down; slowest {slowest.TotalMilliseconds:0} ms, "
            + $"p99 {Percentile(whileDown, 0.99).TotalMilliseconds:0} ms; circuit {stateWhileDown}; shared counting back {recovery?.TotalMilliseconds:0} ms after restart");

        load.Calls.Where(c => c.Exception is not null).Select(c => c.Exception!.ToString()).Should().BeEmpty("no failure may reach a caller");
        whileDown.Should().NotBeEmpty();
        whileDown.Should().OnlyContain(c => c.Duration < s_looseCallBound);
        stateWhileDown.Should().Be(StoreCircuitState.Open);
        switch (mode)
        {
            case StoreFailureMode.FailOpen:
                whileDown.Should().OnlyContain(c => c.Decision.Status == RateLimitStatus.AllowedUnguarded);
                break;
            case StoreFailureMode.FailClosed:
                whileDown.Should().OnlyContain(c => c.Decision.Status == RateLimitStatus.StoreUnavailable && c.Decision.RetryAfter >= TimeSpan.FromSeconds(1));
                break;
            default:
                whileDown.Should().OnlyContain(c => c.Decision.Status == RateLimitStatus.Allowed || c.Decision.Status == RateLimitStatus.LimitExceeded);
                whileDown.Count(c => c.Decision.Status == RateLimitStatus.Allowed).Should().BeLessThanOrEqualTo(10);
                RateLimitEntry[] local = new RateLimitEntry[1];
                await instance.Resilient.LocalStore.PeekAsync(new[] { new RateLimitRequest("victim", rule, 0) }, local);
                local[0].Count.Should().Be(10, "the instance enforces its share, limit / InstanceCount, and no more");
                break;
        }

        recovery.Should().NotBeNull("decisions must return to shared counting within {0} of the restart", s_recoveryBound);
    }

    [Fact]
    public async Task ScriptFlushInTheMiddleOfLoad_NoCallerSeesAnError_AndTheLimitHoldsExactly()
    {
        // A generous timeout: this test is about NOSCRIPT recovery, not about a loaded 2-core machine being slow.
        await using RedisAppInstance instance = RedisAppInstance.Create(redis, _prefix, o => o.Timeout = TimeSpan.FromSeconds(5));
        RateLimitRequest[] request = [new("flushed", RateLimitRule.PerDay(500))];

        ConcurrentLoad load = new();
        load.Start(Callers, maxCallsPerCaller: 20, TimeSpan.FromMilliseconds(2),
            (_, _) => instance.Resilient.AcquireAsync(request, default, StoreFailureMode.FailClosed));
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            await Server().ExecuteAsync("SCRIPT", "FLUSH");
        }

        await load.CompletionAsync(s_hangGuard);

        output.WriteLine($"SCRIPT FLUSH x3 during {load.Calls.Count} calls: "
            + string.Join(", ", load.Calls.GroupBy(c => c.Decision.Status).Select(g => $"{g.Key} {g.Count()}")));
        load.Calls.Where(c => c.Exception is not null).Should().BeEmpty();
        load.Calls.Should().NotContain(c => c.Decision.Status == RateLimitStatus.StoreUnavailable, "a flushed script is reloaded, not a failure");
        load.Calls.Count(c => c.Decision.Status == RateLimitStatus.Allowed).Should().Be(500);
    }

    [Fact]
    public async Task ClientKillInTheMiddleOfLoad_NoCallerSeesAnException_AndTheStoreRecovers()
    {
        await using RedisAppInstance instance = RedisAppInstance.Create(redis, _prefix, o => o.Timeout = TimeSpan.FromSeconds(2));
        RateLimitRequest[] request = [new("killed", RateLimitRule.PerDay(500))];

        ConcurrentLoad load = new();
        load.Start(Callers, maxCallsPerCaller: 20, TimeSpan.FromMilliseconds(2),
            (_, _) => instance.Resilient.AcquireAsync(request, default, StoreFailureMode.FailClosed));
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            await Server().ExecuteAsync("CLIENT", "KILL", "TYPE", "normal");
        }

        await load.CompletionAsync(s_hangGuard);
        TimeSpan? recovery = await WaitForAsync(async () =>
            (await instance.Resilient.PeekAsync(new[] { new RateLimitRequest("killed", RateLimitRule.PerDay(500), 0) }, default)).Status != RateLimitStatus.StoreUnavailable);

        int admitted = load.Calls.Count(c => c.Decision.Status == RateLimitStatus.Allowed);
        RateLimitEntry[] stored = new RateLimitEntry[1];
        await instance.Resilient.PeekAsync(new[] { new RateLimitRequest("killed", RateLimitRule.PerDay(500), 0) }, stored);
        output.WriteLine($"CLIENT KILL x3 during {load.Calls.Count} calls: "
            + string.Join(", ", load.Calls.GroupBy(c => c.Decision.Status).Select(g => $"{g.Key} {g.Count()}"))
            + $"; Redis counted {stored[0].Count}; store answering again {recovery?.TotalMilliseconds:0} ms after the load");
        load.Calls.Where(c => c.Exception is not null).Select(c => c.Exception!.ToString()).Should().BeEmpty();
        recovery.Should().NotBeNull();
        admitted.Should().BeLessThanOrEqualTo(500);
        stored[0].Count.Should().BeGreaterThanOrEqualTo(admitted, "every admission the callers saw was counted in Redis");
    }

    private IServer Server() => Admin.GetServers().Single();

    /// <summary>
    /// Polls until two instances count into the same Redis counter again: the second acquire on a fresh key sees the
    /// first. Local counting would show 1 on both.
    /// </summary>
    private static async Task<TimeSpan?> WaitForSharedCountingAsync(RedisAppInstance first, RedisAppInstance second, StoreFailureMode mode, long since)
    {
        int attempt = 0;
        return await WaitForAsync(async () =>
        {
            RateLimitRequest[] request = [new($"shared-{attempt++}", RateLimitRule.PerDay(100))];
            RateLimitEntry[] a = new RateLimitEntry[1];
            RateLimitEntry[] b = new RateLimitEntry[1];
            RateLimitDecision da = await first.Resilient.AcquireAsync(request, a, mode);
            RateLimitDecision db = await second.Resilient.AcquireAsync(request, b, mode);
            return da.Status == RateLimitStatus.Allowed && db.Status == RateLimitStatus.Allowed && b[0].Count == 2
                && first.Resilient.CircuitState == StoreCircuitState.Closed;
        }, since);
    }

    private static async Task<TimeSpan?> WaitForAsync(Func<Task<bool>> condition, long? since = null)
    {
        long start = since ?? Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < s_recoveryBound)
        {
            if (await condition())
            {
                return Stopwatch.GetElapsedTime(start);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
        }

        return null;
    }

    private static TimeSpan Percentile(IReadOnlyCollection<LoadCall> calls, double p)
    {
        TimeSpan[] sorted = calls.Select(c => c.Duration).Order().ToArray();
        return sorted.Length == 0 ? TimeSpan.Zero : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
    }
}
