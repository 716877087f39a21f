using System.Net;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Acquires across masters, node by node and slot by slot: what one leaves behind when a later master denies it or
/// fails (every earlier master's reservation is given back once, a give-back that fails is logged and does not
/// stop the others, a denial stays a denial), and shares of one master too large for a batch.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterCrossMasterTests(RedisClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    private static readonly RateLimitRule s_rule = RateLimitRule.FixedWindow(3, TimeSpan.FromMinutes(1));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_DeniedOnTheLastMasterAndTheFirstGiveBackFails_GivesBackTheRestLogsAndDenies(bool nodeScripts)
    {
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, logger: logger, nodeScripts: nodeScripts);
        string[] partitions = OnePartitionPerMasterInAscendingSlots(store, s_rule);
        await store.AcquireAsync(new[] { new RateLimitRequest(partitions[2], s_rule, 3) }, Memory<RateLimitEntry>.Empty);

        // The refund reads the counter's reset tombstone first; one of another type fails the first master's give-back
        // before it writes anything, as a master that died after it admitted would.
        string tombstone = RedisCounterKey.Tombstone(Prefix, partitions[0], s_rule.ShapeId, s_rule.GetWindowIndex(Time.GetUtcNow().ToUnixTimeMilliseconds()));
        await Admin.GetDatabase().HashSetAsync(tombstone, "not", "a tombstone");
        await Admin.GetDatabase().KeyExpireAsync(tombstone, TimeSpan.FromSeconds(30));
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, s_rule))];
        RateLimitEntry[] entries = new RateLimitEntry[3];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded, "Redis denied it; a failed give-back must not turn that into a store failure, which fail-open admits");
        decision.DeniedIndex.Should().Be(2);
        (await CountAsync(store, partitions[1])).Should().Be(0, "the second master's reservation is given back although the first master's give-back failed");
        (await CountAsync(store, partitions[0])).Should().Be(1, "the first master's permit stays taken (stricter) until its window ends");
        entries.Select(e => e.Count).Should().Equal([0, 0, 3], "the first master's entry is its reservation's less this request's cost, not read again with the permit left held");
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2830 && r.Level == LogLevel.Warning, "the permit left behind is logged, once");
        if (nodeScripts)
        {
            store.NodeBatcher!.MembersBatched.Should().Be(3, "the node path decided it, one node script per master");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_DeniedOnTheSecondMasterAndTheThirdCannotBeRead_GivesBackLogsAndDenies(bool nodeScripts)
    {
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, logger: logger, nodeScripts: nodeScripts);
        string[] partitions = OnePartitionPerMasterInAscendingSlots(store, s_rule);
        await store.AcquireAsync(new[] { new RateLimitRequest(partitions[1], s_rule, 3) }, Memory<RateLimitEntry>.Empty);

        // After the second master denies, the third (never reached) is read for the denial's entries; a counter of
        // another type fails that read, as a master that died since would.
        string unreadable = store.CounterKey(partitions[2], s_rule);
        await Admin.GetDatabase().HashSetAsync(unreadable, "not", "a counter");
        await Admin.GetDatabase().KeyExpireAsync(unreadable, TimeSpan.FromSeconds(30));
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, s_rule))];

        RateLimitDecision decision = await store.AcquireAsync(requests, new RateLimitEntry[3]);

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded, "Redis denied it; a read that only fills the denial's entries must not turn it into a store failure, which fail-open admits");
        decision.DeniedIndex.Should().Be(1);
        (await CountAsync(store, partitions[0])).Should().Be(0, "the first master's reservation is given back");
        (await CountAsync(store, partitions[1])).Should().Be(3);
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2850 && r.Level == LogLevel.Warning);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_SecondMastersCounterOfTheWrongType_FailsAndGivesTheFirstBackOnce(bool nodeScripts)
    {
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, logger: logger, nodeScripts: nodeScripts);
        string[] partitions = OnePartitionPerMasterInAscendingSlots(store, s_rule);
        await store.AcquireAsync(new[] { new RateLimitRequest(partitions[0], s_rule, 2) }, Memory<RateLimitEntry>.Empty);
        string wrongType = store.CounterKey(partitions[1], s_rule);
        await Admin.GetDatabase().HashSetAsync(wrongType, "not", "a counter");
        await Admin.GetDatabase().KeyExpireAsync(wrongType, TimeSpan.FromSeconds(30));
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, s_rule))];

        Func<Task> acquire = async () => await store.AcquireAsync(requests, new RateLimitEntry[3]);

        (await acquire.Should().ThrowAsync<RedisServerException>()).Which.Message.Should().StartWith("WRONGTYPE");
        (await CountAsync(store, partitions[0])).Should().Be(2, "the first master's reservation is given back, once (twice would leave 1)");
        (await CountAsync(store, partitions[2])).Should().Be(0, "the third master was never reached");
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 312);
        store.NodeFallbacks.Should().Be(0, "a counter of the wrong type is no reason to decide again slot by slot");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_ScriptsFlushedOnTheSecondMasterOnly_ReloadsThereAndAdmitsOnce(bool nodeScripts)
    {
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, nodeScripts: nodeScripts);
        string[] partitions = OnePartitionPerMasterInAscendingSlots(store, s_rule);
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, s_rule))];
        (await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        await MasterOf(store, partitions[1], s_rule).ScriptFlushAsync();
        RateLimitEntry[] entries = new RateLimitEntry[3];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);

        decision.IsAllowed.Should().BeTrue();
        entries.Select(e => e.Count).Should().Equal(2, 2, 2);
        foreach (string partition in partitions)
        {
            (await CountAsync(store, partition)).Should().Be(2, "every master counted the acquire once, the reloaded one too");
        }

        store.NodeFallbacks.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_ManyCallersOnThreeInstancesEachMasterCanDeny_AdmitExactlyWhatASerialRunWould()
    {
        // Every acquire takes one counter on each master (limits 40, 25, 30 in master order) and one of its own: a serial
        // run admits exactly 25, the smallest limit. Concurrent callers reserve master by master in the same order, so
        // the first master holds at most what the second can still admit, and every denial gives back what it held:
        // exactly 25 admitted, every shared counter at 25, whatever the callers' order of requests.
        RedisRateLimitStore[] stores = [.. Enumerable.Range(0, 3).Select(_ => RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, nodeScripts: true))];
        string[] partitions = OnePartitionPerMasterInAscendingSlots(stores[0], s_rule);
        RateLimitRule[] rules = [RateLimitRule.FixedWindow(40, TimeSpan.FromHours(1)), RateLimitRule.FixedWindow(25, TimeSpan.FromHours(1)), RateLimitRule.FixedWindow(30, TimeSpan.FromHours(1))];
        RateLimitRule own = RateLimitRule.FixedWindow(1000, TimeSpan.FromHours(1));
        int admitted = 0;

        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, caller) =>
        {
            RateLimitRequest[] requests =
            [
                new($"own-{caller}:" + Prefix, own),
                .. Enumerable.Range(0, 3).Select(m => new RateLimitRequest(partitions[m], rules[m])),
            ];
            if (caller % 2 == 1)
            {
                Array.Reverse(requests);
            }

            if ((await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed)
            {
                Interlocked.Increment(ref admitted);
            }
        });

        admitted.Should().Be(25);
        for (int m = 0; m < 3; m++)
        {
            (await CountAsync(stores[0], partitions[m], rules[m])).Should().Be(25, "master {0} holds exactly the admitted acquires: every denial gave back what it reserved", m);
        }

        stores.Sum(s => s.NodeBatcher!.MembersBatched).Should().BeGreaterThan(stores.Sum(s => s.NodeBatcher!.BatchesSent), "acquires shared node scripts");
    }

    [Fact]
    public async Task AcquireAsync_ShareOfOneMasterLargerThanABatch_IsDecidedByItsNodeScriptAlone()
    {
        // 1,700 counters on one master, in many of its slots: more keys and arguments than one batch carries
        // (RedisScriptBatcher.MaxValues), so the node lane sends the member on its own; it must still go as a node script,
        // since one acquire script may not declare keys of several slots.
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, nodeScripts: true);
        RateLimitRule rule = RateLimitRule.FixedWindow(2, TimeSpan.FromMinutes(1));
        string[] partitions = PartitionsOnOneMaster(store, rule, 1700);
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, rule))];
        (6 + (5 * requests.Length)).Should().BeGreaterThan(RedisScriptBatcher.MaxValues, "the share must be too large for a batch");

        RateLimitDecision first = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        RateLimitDecision second = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        RateLimitDecision third = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        first.IsAllowed.Should().BeTrue();
        second.IsAllowed.Should().BeTrue();
        third.Status.Should().Be(RateLimitStatus.LimitExceeded);
        third.DeniedIndex.Should().Be(0);
        (await CountAsync(store, partitions[0], rule)).Should().Be(2);
        (await CountAsync(store, partitions[^1], rule)).Should().Be(2);
        store.NodeFallbacks.Should().Be(0);
    }

    /// <summary>Partitions whose counters all live on the master of the first one, in as many of its slots as they fall in.</summary>
    private string[] PartitionsOnOneMaster(RedisRateLimitStore store, RateLimitRule rule, int count)
    {
        ClusterConfiguration configuration = Admin.GetServers()[0].ClusterConfiguration!;
        List<string> found = [];
        EndPoint? master = null;
        for (int i = 0; found.Count < count; i++)
        {
            string candidate = $"large-{i}:" + Prefix;
            EndPoint owner = configuration.GetBySlot(Admin.HashSlot(store.CounterKey(candidate, rule)))!.EndPoint!;
            master ??= owner;
            if (owner.Equals(master))
            {
                found.Add(candidate);
            }
        }

        return [.. found];
    }

    private static Task<long> CountAsync(RedisRateLimitStore store, string key) => CountAsync(store, key, s_rule);
}
