using System.Net;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Redis.Tests.Resilience;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// An acquire decided node by node whose second master is paused (<c>CLIENT PAUSE … WRITE</c>) after the first master
/// admitted it: the caller cancels, or the resilience timeout answers it by the failure mode, before the second master
/// answers. Each master's permits must be given back exactly once: the counters start at 2, so a give-back missed
/// leaves 3 and one made twice leaves 1. On the fault tests' cluster, since a paused master would stall the shared one.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterPausedMasterTests(RedisFaultClusterFixture cluster) : RedisFaultClusterTestBase(cluster)
{
    /// <summary>A ceiling only: each test lifts the pause itself (CLIENT UNPAUSE) once its caller has its answer.</summary>
    private static readonly TimeSpan s_pause = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(30);
    private static readonly RateLimitRule s_rule = RateLimitRule.FixedWindow(10, TimeSpan.FromHours(1));
    private readonly FakeLoggerProvider _logs = new();

    [Fact]
    public async Task AcquireAsync_CallerCancelsWhileTheSecondMasterIsPaused_EachMasterGivenBackOnce()
    {
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, nodeScripts: true);
        (string first, string second, IServer secondMaster) = await TwoMastersAtTwoAsync(store);
        using CancellationTokenSource cancel = new();

        await PauseAsync(secondMaster);
        Task<RateLimitDecision> acquire = store.AcquireAsync(new RateLimitRequest[] { new(first, s_rule), new(second, s_rule) }, Memory<RateLimitEntry>.Empty, cancel.Token).AsTask();
        await WaitUntilAsync(async () => await CounterAsync(store, first) == 3);
        cancel.Cancel();
        Func<Task> cancelled = () => acquire.WaitAsync(s_hangGuard);
        await cancelled.Should().ThrowAsync<OperationCanceledException>();
        await secondMaster.ExecuteAsync("CLIENT", "UNPAUSE");
        await store.SettledAsync().WaitAsync(s_hangGuard);

        (await CounterAsync(store, first)).Should().Be(2, "the first master's reservation is given back once the caller cancels");
        (await CounterAsync(store, second)).Should().Be(2, "the second master admitted after the caller left, and that is given back once it answers");
    }

    [Fact]
    public async Task AcquireAsync_ResilienceTimeoutWhileTheSecondMasterIsPaused_LateAdmissionGivenBackOnce()
    {
        await using RedisAppInstance instance = RedisAppInstance.Create(Cluster.CreateConfiguration(), Prefix);
        RedisRateLimitStore store = (RedisRateLimitStore)instance.Resilient.Store;
        await ClearOfTheServersHourAsync();
        await store.NodeScriptsDetectedAsync();
        store.NodeBatcher.Should().NotBeNull("the acquire must be decided node by node");
        (string first, string second, IServer secondMaster) = await TwoMastersAtTwoAsync(store);

        await PauseAsync(secondMaster);
        RateLimitDecision decision = await instance.Resilient.AcquireAsync(
            new RateLimitRequest[] { new(first, s_rule), new(second, s_rule) }, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailClosed);
        await secondMaster.ExecuteAsync("CLIENT", "UNPAUSE");
        await instance.Resilient.CancelledCallsSettledAsync().WaitAsync(s_hangGuard);
        await store.SettledAsync().WaitAsync(s_hangGuard);

        decision.Status.Should().Be(RateLimitStatus.StoreUnavailable, "the 250 ms timeout answered it, under fail-closed");
        (await CounterAsync(store, first)).Should().Be(2, "the late admission is given back on the first master, once");
        (await CounterAsync(store, second)).Should().Be(2, "and on the second, once");
    }

    [Fact]
    public async Task AcquireAsync_DeniedWhileAMasterLeftToReadIsPaused_AnswersTheDenialBeforeTheTimeout()
    {
        // The second master denies; the third, never reached, is only read for the denial's entries, and it is paused.
        // Under fail-open, waiting for that read until the store timeout would answer the denied acquire by the failure
        // mode and admit it. The timeout is 2 s here, so the denial must come well before it, whatever the machine's load.
        await using RedisAppInstance instance = RedisAppInstance.Create(
            Cluster.CreateConfiguration(), Prefix, configure: o => o.Timeout = TimeSpan.FromSeconds(2), configureServices: s => s.AddSingleton<ILoggerProvider>(_logs));
        RedisRateLimitStore store = (RedisRateLimitStore)instance.Resilient.Store;
        await ClearOfTheServersHourAsync();
        await store.NodeScriptsDetectedAsync();
        string[] partitions = OnePartitionPerMasterInAscendingSlots(store, s_rule);
        (await store.AcquireAsync(new[] { new RateLimitRequest(partitions[1], s_rule, 10) }, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        IServer third = MasterOf(store, partitions[2], s_rule);
        RateLimitEntry[] entries = new RateLimitEntry[3];

        await PauseAsync(third);
        RateLimitDecision decision = await instance.Resilient.AcquireAsync(
            partitions.Select(p => new RateLimitRequest(p, s_rule)).ToArray(), entries, StoreFailureMode.FailOpen);
        await third.ExecuteAsync("CLIENT", "UNPAUSE");
        await store.SettledAsync().WaitAsync(s_hangGuard);

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded, "the second master denied it: a read that only fills the denial's entries must not turn it into a timeout, which fail-open admits");
        decision.DeniedIndex.Should().Be(1);
        entries[1].Should().Match<RateLimitEntry>(e => !e.IsAllowed && e.Count == 10, "the denying master's entry is filled");
        (await CounterAsync(store, partitions[0])).Should().Be(0, "the first master's reservation is given back");
        (await CounterAsync(store, partitions[1])).Should().Be(10);
        (await CounterAsync(store, partitions[2])).Should().Be(0, "the third master only peeked");
        _logs.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2870, "the denial answered without its last reads is logged");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_DeniedAndAnsweredBeforeItsReads_EntriesLeaveOutTheReservationGivenBack(bool nodeScripts)
    {
        // The first master reserves (its counter 4 to 5), the second denies, and the third, never reached, is paused, so
        // the denial is answered with the entries known when Redis denied. The first master's reservation is being given
        // back: its entry must read 4, as a single-script denial's would. Read as 5, a party's own copies of a text were
        // one copy high, and a party exactly at its own limit was a bulk_content trip.
        FakeLogger<RedisRateLimitStore> logger = new();
        TimeSpan timeout = TimeSpan.FromSeconds(2);
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, logger: logger, maxQueueWait: timeout, nodeScripts: nodeScripts);
        string[] partitions = OnePartitionPerMasterInAscendingSlots(store, s_rule);
        (await store.AcquireAsync(new[] { new RateLimitRequest(partitions[0], s_rule, 4) }, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        (await store.AcquireAsync(new[] { new RateLimitRequest(partitions[1], s_rule, 10) }, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        IServer third = MasterOf(store, partitions[2], s_rule);
        RateLimitEntry[] entries = new RateLimitEntry[3];

        await PauseAsync(third);
        Task<RateLimitDecision> acquire = store.AcquireAsync(partitions.Select(p => new RateLimitRequest(p, s_rule)).ToArray(), entries).AsTask();
        await WaitUntilAsync(() => Task.FromResult(logger.Collector.GetSnapshot().Any(r => r.Id.Id == 311)));

        // The wait for the reads may start its timer on the fake clock just after a move: move it until the denial is answered.
        await WaitUntilAsync(() =>
        {
            Time.Advance(timeout);
            return Task.FromResult(acquire.IsCompleted);
        });
        RateLimitDecision decision = await acquire;
        await third.ExecuteAsync("CLIENT", "UNPAUSE");
        await store.SettledAsync().WaitAsync(s_hangGuard);

        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2870, "the denial was answered before its reads");
        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(1);
        entries[0].Should().Match<RateLimitEntry>(e => e.IsAllowed && e.Count == 4, "the reservation given back is no permit counted");
        entries[1].Should().Match<RateLimitEntry>(e => !e.IsAllowed && e.Count == 10);
        (await CounterAsync(store, partitions[0])).Should().Be(4, "the reservation was given back");
        (await CounterAsync(store, partitions[2])).Should().Be(0, "the third master only peeked");
    }

    [Fact]
    public async Task AcquireAsync_NodeLaneFullWhileItsMasterIsPaused_ShareBeyondTheLaneGoesAsANodeScriptOfItsOwn()
    {
        // The master's lane holds one batch in flight (paused) and RedisScriptBatcher.MaxQueued waiting members; the
        // acquires after them go out on their own, and their share spans two slots of that master.
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(
            Cluster.CreateMultiplexer(), Prefix, Time, maxQueueWait: TimeSpan.FromMinutes(1), nodeScripts: true);
        RateLimitRule wide = RateLimitRule.FixedWindow(100_000, TimeSpan.FromHours(1));
        (string first, string second, IServer master) = TwoSlotsOfOneMaster(store, wide);
        RateLimitRequest[] requests = [new(first, wide), new(second, wide)];
        (await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        int count = RedisScriptBatcher.MaxQueued + 3;

        await PauseAsync(master);
        Task<RateLimitDecision>[] acquires = new Task<RateLimitDecision>[count];
        for (int i = 0; i < count; i++)
        {
            acquires[i] = store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty).AsTask();
        }

        await master.ExecuteAsync("CLIENT", "UNPAUSE");
        RateLimitDecision[] decisions = await Task.WhenAll(acquires).WaitAsync(s_hangGuard);

        decisions.Should().OnlyContain(d => d.IsAllowed, "every acquire is decided, those beyond the full lane too");
        (await CounterAsync(store, first, wide)).Should().Be(count + 1);
        (await CounterAsync(store, second, wide)).Should().Be(count + 1);
    }

    /// <summary>
    /// An app instance counts <see cref="s_rule"/>'s hour on the servers' clock, and the tests read the counters back
    /// after a pause and a timeout (a second or more on a loaded machine): across the hour's end the late admission
    /// counts in a new window. The waits start at least 30 s before the hour ends.
    /// </summary>
    private Task ClearOfTheServersHourAsync() => WindowEnd.ClearOfTheHourAsync(Admin.GetServers().First(s => s.IsConnected));

    /// <summary>Two partitions on two masters, first in slot order, each counter at 2; the second one's master.</summary>
    private async Task<(string First, string Second, IServer SecondMaster)> TwoMastersAtTwoAsync(RedisRateLimitStore store)
    {
        ClusterConfiguration configuration = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        Dictionary<EndPoint, (string Partition, int Slot)> byMaster = [];
        for (int i = 0; byMaster.Count < 2; i++)
        {
            string candidate = $"paused-{i}:" + Prefix;
            int slot = Admin.HashSlot(store.CounterKey(candidate, s_rule));
            byMaster.TryAdd(configuration.GetBySlot(slot)!.EndPoint!, (candidate, slot));
        }

        KeyValuePair<EndPoint, (string Partition, int Slot)>[] ordered = [.. byMaster.OrderBy(p => p.Value.Slot)];
        foreach (KeyValuePair<EndPoint, (string Partition, int Slot)> pair in ordered)
        {
            (await store.AcquireAsync(new[] { new RateLimitRequest(pair.Value.Partition, s_rule, 2) }, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        }

        return (ordered[0].Value.Partition, ordered[1].Value.Partition, Admin.GetServer(ordered[1].Key));
    }

    private static Task PauseAsync(IServer master)
        => master.ExecuteAsync("CLIENT", "PAUSE", (long)s_pause.TotalMilliseconds, "WRITE");

    /// <summary>Two partitions in two slots of one master, and that master.</summary>
    private (string First, string Second, IServer Master) TwoSlotsOfOneMaster(RedisRateLimitStore store, RateLimitRule rule)
    {
        ClusterConfiguration configuration = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        string first = "lane-0:" + Prefix;
        int firstSlot = Admin.HashSlot(store.CounterKey(first, rule));
        EndPoint master = configuration.GetBySlot(firstSlot)!.EndPoint!;
        for (int i = 1; ; i++)
        {
            string candidate = $"lane-{i}:" + Prefix;
            int slot = Admin.HashSlot(store.CounterKey(candidate, rule));
            if (slot != firstSlot && configuration.GetBySlot(slot)!.EndPoint!.Equals(master))
            {
                return (first, candidate, Admin.GetServer(master));
            }
        }
    }

    private Task<long> CounterAsync(RedisRateLimitStore store, string partition) => CounterAsync(store, partition, s_rule);

    private async Task<long> CounterAsync(RedisRateLimitStore store, string partition, RateLimitRule rule)
        => (long)await Admin.GetDatabase().StringGetAsync(store.CounterKey(partition, rule));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using CancellationTokenSource guard = new(s_hangGuard);
        while (!await condition())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, guard.Token);
        }
    }
}
