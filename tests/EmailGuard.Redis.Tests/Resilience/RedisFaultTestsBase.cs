using System.Diagnostics;
using System.Net;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Real faults against real Redis, one server or a cluster: the node holding the counter killed under load and started
/// again, scripts flushed and connections killed on every primary. Durations are measured and written to the test
/// output; they are asserted only against a bound far above the timeout (and far below what StackExchange.Redis alone
/// would wait), never against tight thresholds. After each test every key on every primary must carry its TTL.
/// </summary>
public abstract class RedisFaultTestsBase(ITestOutputHelper output) : IAsyncLifetime
{
    private protected const int Callers = 64;

    /// <summary>Enough calls per caller to keep the load going for as long as a test needs; every test stops it earlier.</summary>
    private protected const int MaxCallsPerCaller = 4000;

    /// <summary>StackExchange.Redis alone would hold a call against a dead node for its 10 s command timeout.</summary>
    private protected static readonly TimeSpan s_looseCallBound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_overLimitCacheMaxAge = new RedisRateLimitStoreOptions().OverLimitCacheMaxAge;
    private static readonly TimeSpan s_overLimitCacheSlack = TimeSpan.FromSeconds(1);
    private protected static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(60);
    private protected static readonly TimeSpan s_recoveryBound = TimeSpan.FromSeconds(30);

    /// <summary>How many partition names to try when looking for one whose counter lives on a given node.</summary>
    private const int MaxPartitionCandidates = 10_000;

    private ConnectionMultiplexer? _admin;

    /// <summary>Every failure mode: each kill-under-load test runs once per mode.</summary>
    public static TheoryData<StoreFailureMode> FailureModes => [StoreFailureMode.FailOpen, StoreFailureMode.FailClosed, StoreFailureMode.LocalFallback];

    private protected string Prefix { get; } = RedisServerFixture.UniquePrefix();

    private protected ITestOutputHelper Output => output;

    private protected ConnectionMultiplexer Admin => _admin ??= ConnectAdmin();

    /// <summary>How many primaries the Redis under test has; the TTL scan must reach every one.</summary>
    private protected abstract int Primaries { get; }

    /// <summary>Whether the test can kill and start the nodes (local processes).</summary>
    private protected abstract bool CanControlNodes { get; }

    /// <summary>A fresh configuration for one simulated app instance.</summary>
    private protected abstract ConfigurationOptions CreateConfiguration();

    /// <summary>A new admin connection, disposed by the fixture.</summary>
    private protected abstract ConnectionMultiplexer ConnectAdmin();

    /// <summary>Kills the node at <paramref name="node"/>.</summary>
    private protected abstract void StopNode(EndPoint node);

    /// <summary>Keeps the killed node down while the load runs; returns whether the outage became what the test needs.</summary>
    private protected abstract Task<bool> KeepDownAsync(EndPoint node);

    /// <summary>Starts every killed node again on its port and waits until each answers.</summary>
    private protected abstract Task StartStoppedNodesAsync();

    /// <summary>Waits until the whole Redis under test is healthy again, so the next test starts on a sound one.</summary>
    private protected abstract Task WaitForHealthyAsync();

    public Task InitializeAsync()
    {
        CanControlNodes.Should().BeTrue(
            "the fault tests kill and start their own redis-server processes; unset {0} and {1}, or install redis-server",
            RedisServerFixture.EnvironmentVariable, RedisClusterFixture.EnvironmentVariable);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (!CanControlNodes)
        {
            return;
        }

        await StartStoppedNodesAsync();
        await WaitForHealthyAsync();

        // A fresh connection: one that saw a node die may still be reconnecting to it, and would scan only the others.
        ConnectionMultiplexer scanner = ConnectAdmin();
        scanner.GetServers().Count(s => s.IsConnected && !s.IsReplica).Should().Be(Primaries, "the TTL scan must reach every primary");
        (IReadOnlyList<string> violations, int count) = await RedisKeyTtlAssertions.FindViolationsAsync(
            scanner, Prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        output.WriteLine($"TTL scan on {Primaries} primaries: {count} keys under {Prefix}, {violations.Count} violations");
        violations.Should().BeEmpty("every key must carry a TTL, whatever faults happened while it was written");
    }

    [Theory]
    [MemberData(nameof(FailureModes))]
    public async Task NodeStoppedUnderLoad_EveryCallCompletesWithTheModeOutcome_AndSharedCountingReturnsAfterRestart(StoreFailureMode mode)
    {
        // Arrange: two app instances; 20 per day on one key, so each instance's local share is 10. The key, and the
        // keys that probe for recovery, live on the node that is killed.
        await using RedisAppInstance instance = CreateInstance();
        await using RedisAppInstance other = CreateInstance();
        RateLimitRule rule = CenteredWindow.PerDay(20);
        EndPoint victim = VictimNode();
        string victimKey = PartitionOn(victim, "victim", rule);
        RateLimitRequest[] request = [new(victimKey, rule)];

        // A first call straight to the store (no timeout) connects the instance, which is lazy, and loads its scripts: a
        // loaded machine can stretch a cold connection past the 250 ms timeout, and the mode would answer "Redis is up".
        await instance.Resilient.Store.PeekAsync(new[] { new RateLimitRequest(victimKey, rule, 0) }, default);
        (await instance.Resilient.AcquireAsync(request, default, mode)).Status.Should().Be(RateLimitStatus.Allowed, "Redis is up");

        // Act: 64 callers hammer the key; its node is killed in the middle.
        NodeOutage outage = await KillUnderLoadAsync(instance, other, mode, request, victim);

        // Assert
        output.WriteLine($"{mode}: {Describe(outage)}");
        AssertOutage(mode, outage);
        if (mode == StoreFailureMode.LocalFallback)
        {
            outage.WhileDown.Count(c => c.Decision.Status == RateLimitStatus.Allowed).Should().BeLessThanOrEqualTo(10);
            (await LocalCountAsync(instance, victimKey, rule)).Should().BeLessThanOrEqualTo(
                10, "the instance enforces its share, limit / InstanceCount, less what the store had counted before the outage");
        }
    }

    [Fact]
    public async Task ScriptFlushInTheMiddleOfLoad_NoCallerSeesAnError_AndTheLimitHoldsExactly()
    {
        // A generous timeout: this test is about NOSCRIPT recovery, not about a loaded 2-core machine being slow.
        await using RedisAppInstance instance = CreateInstance(o => o.Timeout = TimeSpan.FromSeconds(5));
        RateLimitRequest[] request = [new("flushed", CenteredWindow.PerDay(500))];

        ConcurrentLoad load = await RunWhileRepeatingOnEveryPrimaryAsync(instance, request, "SCRIPT", "FLUSH");

        output.WriteLine($"SCRIPT FLUSH x3 on {Primaries} primaries during {load.Calls.Count} calls: " + Summary(load));
        load.Calls.Where(c => c.Exception is not null).Should().BeEmpty();
        load.Calls.Should().NotContain(c => c.Decision.Status == RateLimitStatus.StoreUnavailable, "a flushed script is reloaded, not a failure");
        load.Calls.Count(c => c.Decision.Status == RateLimitStatus.Allowed).Should().Be(500);
    }

    [Fact]
    public async Task ClientKillInTheMiddleOfLoad_NoCallerSeesAnException_AndTheStoreRecovers()
    {
        await using RedisAppInstance instance = CreateInstance(o => o.Timeout = TimeSpan.FromSeconds(2));
        RateLimitRequest[] request = [new("killed", CenteredWindow.PerDay(500))];

        ConcurrentLoad load = await RunWhileRepeatingOnEveryPrimaryAsync(instance, request, "CLIENT", "KILL", "TYPE", "normal");
        TimeSpan? recovery = await WaitForAsync(async () =>
            (await instance.Resilient.PeekAsync(new[] { new RateLimitRequest("killed", CenteredWindow.PerDay(500), 0) }, default)).Status != RateLimitStatus.StoreUnavailable);

        int admitted = load.Calls.Count(c => c.Decision.Status == RateLimitStatus.Allowed);
        RateLimitEntry[] stored = new RateLimitEntry[1];
        await instance.Resilient.PeekAsync(new[] { new RateLimitRequest("killed", CenteredWindow.PerDay(500), 0) }, stored);
        output.WriteLine($"CLIENT KILL x3 on {Primaries} primaries during {load.Calls.Count} calls: " + Summary(load)
            + $"; Redis counted {stored[0].Count}; store answering again {recovery?.TotalMilliseconds:0} ms after the load");
        load.Calls.Where(c => c.Exception is not null).Select(c => c.Exception!.ToString()).Should().BeEmpty();
        recovery.Should().NotBeNull();
        admitted.Should().BeLessThanOrEqualTo(500);
        stored[0].Count.Should().BeGreaterThanOrEqualTo(admitted, "every admission the callers saw was counted in Redis");
    }

    private protected RedisAppInstance CreateInstance(Action<StoreResilienceOptions>? configure = null, Action<IServiceCollection>? configureServices = null)
        => RedisAppInstance.Create(CreateConfiguration(), Prefix, configure, configureServices);

    /// <summary>The node to kill: the one serving the middle slot, so that on a cluster other masters hold lower and higher slots.</summary>
    private protected EndPoint VictimNode() => NodeOfSlot(8192);

    /// <summary>The node serving <paramref name="slot"/>: the only server, or the cluster master that owns the slot.</summary>
    private protected EndPoint NodeOfSlot(int slot)
    {
        IServer any = Admin.GetServers().First(s => s.IsConnected);
        return any.ServerType == ServerType.Cluster
            ? any.ClusterConfiguration!.GetBySlot(slot)!.EndPoint!
            : any.EndPoint;
    }

    /// <summary>A partition key starting with <paramref name="name"/> whose counter for <paramref name="rule"/> lives on <paramref name="node"/>.</summary>
    private protected string PartitionOn(EndPoint node, string name, RateLimitRule rule) => PartitionsOn(node, name, rule, count: 1)[0];

    private protected string[] PartitionsOn(EndPoint node, string name, RateLimitRule rule, int count)
    {
        List<string> found = [];
        for (int i = 0; i < MaxPartitionCandidates && found.Count < count; i++)
        {
            // The store's own key format: its hash tag alone picks the slot, whatever window the key names.
            string candidate = $"{name}-{i}";
            if (NodeOfSlot(Admin.HashSlot(RedisCounterKey.Create(Prefix, candidate, rule.ShapeId, RedisCounterKey.NoWindow))).Equals(node))
            {
                found.Add(candidate);
            }
        }

        found.Should().HaveCount(count, "enough of {0} partition names must land on {1}", MaxPartitionCandidates, node);
        return [.. found];
    }

    /// <summary>
    /// Runs 64 callers acquiring <paramref name="request"/> on <paramref name="instance"/>; once they are under way kills
    /// <paramref name="victim"/>, keeps it down (running <paramref name="whileDown"/> meanwhile), stops the load, starts
    /// the node again and waits until <paramref name="instance"/> and <paramref name="other"/> count together in Redis
    /// again, on keys that live on the node that was killed.
    /// </summary>
    private protected async Task<NodeOutage> KillUnderLoadAsync(
        RedisAppInstance instance, RedisAppInstance other, StoreFailureMode mode, RateLimitRequest[] request, EndPoint victim, Func<Task>? whileDown = null)
    {
        string[] probes = PartitionsOn(victim, "shared", CenteredWindow.PerDay(100), count: 300);
        ConcurrentLoad load = new();
        load.Start(Callers, MaxCallsPerCaller, TimeSpan.FromMilliseconds(5), (_, _) => instance.Resilient.AcquireAsync(request, default, mode));
        await load.WaitForCallsAsync(50, s_hangGuard);
        StopNode(victim);
        long stoppedAt = Stopwatch.GetTimestamp();
        long localDenialsUntil = stoppedAt + (long)((s_overLimitCacheMaxAge + s_overLimitCacheSlack).TotalSeconds * Stopwatch.Frequency);
        bool asWanted = await KeepDownAsync(victim);
        if (whileDown is not null)
        {
            await whileDown();
        }

        // The mode's answers are asserted on the calls made once the over-limit cache can no longer answer (see
        // AssertOutage), so the node stays down until the load has made as many of them as it has callers. The single
        // server is kept down 2 s, just the cache's reach: the calls in the moment between its end and the stop were all
        // there was, and a loaded machine once made none (a local fallback whose share was spent denied every call
        // within the reach, and those denials are not asserted).
        await load.WaitForCallsStartedAfterAsync(localDenialsUntil, Callers, s_hangGuard);
        await load.StopAsync(s_hangGuard);
        StoreCircuitState circuit = instance.Resilient.CircuitState;
        await StartStoppedNodesAsync();
        long startedAt = Stopwatch.GetTimestamp();
        TimeSpan? recovery = await WaitForSharedCountingAsync(instance, other, mode, probes, startedAt);
        return new NodeOutage(
            load,
            [.. load.Calls.Where(c => c.StartedAt >= stoppedAt)],
            asWanted,
            circuit,
            Stopwatch.GetElapsedTime(stoppedAt, startedAt),
            recovery,
            localDenialsUntil);
    }

    private protected static string Describe(NodeOutage outage)
        => $"{outage.Load.Calls.Count} calls ({Summary(outage.Load)}), {outage.WhileDown.Length} while the node was down ({outage.Down.TotalMilliseconds:0} ms); "
            + $"slowest {outage.WhileDown.Max(c => c.Duration).TotalMilliseconds:0} ms, p99 {Percentile(outage.WhileDown, 0.99).TotalMilliseconds:0} ms; "
            + $"circuit {outage.CircuitWhileDown}; shared counting back {outage.Recovery?.TotalMilliseconds:0} ms after restart";

    /// <summary>
    /// What every kill under load must show: no caller saw an exception or waited long, the circuit opened, every call
    /// made while the node was down got the mode's outcome, and shared counting came back after the restart.
    /// </summary>
    private protected static void AssertOutage(StoreFailureMode mode, NodeOutage outage)
    {
        outage.AsWanted.Should().BeTrue();
        outage.Load.Calls.Where(c => c.Exception is not null).Select(c => c.Exception!.ToString()).Should().BeEmpty("no failure may reach a caller");
        outage.WhileDown.Should().NotBeEmpty();
        outage.WhileDown.Should().OnlyContain(c => c.Duration < s_looseCallBound);
        outage.CircuitWhileDown.Should().Be(StoreCircuitState.Open);

        // A counter Redis reported over its limit just before the kill stays denied from the over-limit cache for at
        // most its max age (the slack covers a reply that was on its way); after that, the failure mode answers.
        AssertModeOutcome(mode, [.. outage.WhileDown.Where(c => !(c.Decision.Status == RateLimitStatus.LimitExceeded && c.StartedAt < outage.LocalDenialsUntil))]);
        outage.Recovery.Should().NotBeNull("decisions must return to shared counting within {0} of the restart", s_recoveryBound);
    }

    /// <summary>What every call made while the store was unreachable must have got.</summary>
    private static void AssertModeOutcome(StoreFailureMode mode, IReadOnlyCollection<LoadCall> whileDown)
    {
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
                break;
        }
    }

    /// <summary>How many permits the instance's local fallback counted on a key, under the instance's share of the rule.</summary>
    private protected static async Task<long> LocalCountAsync(RedisAppInstance instance, string key, RateLimitRule rule)
    {
        RateLimitEntry[] local = new RateLimitEntry[1];
        await instance.Resilient.LocalStore.PeekAsync(new[] { new RateLimitRequest(key, rule, 0) }, local);
        return local[0].Count;
    }

    /// <summary>
    /// Polls until two instances count into the same Redis counter again: the second acquire on a fresh key sees the
    /// first. Local counting would show 1 on both.
    /// </summary>
    private static async Task<TimeSpan?> WaitForSharedCountingAsync(
        RedisAppInstance first, RedisAppInstance second, StoreFailureMode mode, string[] probes, long since)
    {
        int attempt = 0;
        return await WaitForAsync(async () =>
        {
            RateLimitRequest[] request = [new(probes[attempt++ % probes.Length], CenteredWindow.PerDay(100))];
            RateLimitEntry[] a = new RateLimitEntry[1];
            RateLimitEntry[] b = new RateLimitEntry[1];
            RateLimitDecision da = await first.Resilient.AcquireAsync(request, a, mode);
            RateLimitDecision db = await second.Resilient.AcquireAsync(request, b, mode);
            return da.Status == RateLimitStatus.Allowed && db.Status == RateLimitStatus.Allowed && b[0].Count == 2
                && first.Resilient.CircuitState == StoreCircuitState.Closed;
        }, since);
    }

    private protected static async Task<TimeSpan?> WaitForAsync(Func<Task<bool>> condition, long? since = null)
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

    private protected static TimeSpan Percentile(IReadOnlyCollection<LoadCall> calls, double p)
    {
        TimeSpan[] sorted = calls.Select(c => c.Duration).Order().ToArray();
        return sorted.Length == 0 ? TimeSpan.Zero : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
    }

    private protected static string Summary(ConcurrentLoad load)
        => string.Join(", ", load.Calls.GroupBy(c => c.Decision.Status).Select(g => $"{g.Key} {g.Count()}"));

    /// <summary>64 callers make 20 fail-closed acquires each while the command runs three times on every primary.</summary>
    private async Task<ConcurrentLoad> RunWhileRepeatingOnEveryPrimaryAsync(RedisAppInstance instance, RateLimitRequest[] request, string command, params object[] arguments)
    {
        IServer[] primaries = Admin.GetServers().Where(s => !s.IsReplica).ToArray();
        primaries.Should().HaveCount(Primaries);
        ConcurrentLoad load = new();
        load.Start(Callers, maxCallsPerCaller: 20, TimeSpan.FromMilliseconds(2),
            (_, _) => instance.Resilient.AcquireAsync(request, default, StoreFailureMode.FailClosed));
        for (int i = 0; i < 3; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), TimeProvider.System);
            foreach (IServer server in primaries)
            {
                await server.ExecuteAsync(command, arguments);
            }
        }

        await load.CompletionAsync(s_hangGuard);
        return load;
    }
}
