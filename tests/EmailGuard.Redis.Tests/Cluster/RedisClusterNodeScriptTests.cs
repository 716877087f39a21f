using System.Globalization;
using System.Net;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Acquires across slots decided node by node on the three-master cluster: the slots of one master take one script
/// there, and many callers on several connections, whose acquires of many slots are batched per master, are admitted
/// exactly.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterNodeScriptTests(RedisClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    [Fact]
    public async Task AcquireAsync_SlotsOfOneMaster_TakeOneScriptOnThatMaster()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromMinutes(1));
        (string[] partitions, IServer master) = PartitionsOnOneMaster(store, rule, 3);
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, rule))];
        await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        long before = await ScriptCallsAsync(master);
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);
        long calls = await ScriptCallsAsync(master) - before;

        decision.IsAllowed.Should().BeTrue();
        entries.Should().OnlyContain(e => e.IsAllowed && e.Count == 2);
        calls.Should().Be(1, "the three slots live on one master, and one node script decides them all");
    }

    [Fact]
    public async Task Connect_ScriptCachesOfEveryMasterFlushed_LoadsEveryScriptOnEachMaster_SoAFirstAcquireAcrossThemMeetsNoNoScript()
    {
        IServer[] masters = [.. Admin.GetServers().Where(s => !s.IsReplica)];
        foreach (IServer master in masters)
        {
            await master.ScriptFlushAsync();
        }

        RedisRateLimitStore store = CreateStore();
        await store.Connection.GetDatabaseAsync();
        await store.Connection.ScriptLoads;
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromMinutes(1));
        RateLimitRequest[] requests = [.. OnePartitionPerMasterInAscendingSlots(store, rule).Select(p => new RateLimitRequest(p, rule))];
        long before = await NoScriptErrorsAsync(masters);

        RateLimitDecision decision = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        long noScript = await NoScriptErrorsAsync(masters) - before;
        decision.IsAllowed.Should().BeTrue();
        noScript.Should().Be(0, "each master had every script, the node script included, before the first call");
        store.Connection.ScriptsKeptLoaded.Should().HaveCount(7, "the store's six scripts and the node script");
        foreach (IServer master in masters)
        {
            foreach (RedisScript script in store.Connection.ScriptsKeptLoaded)
            {
                (await master.ScriptExistsAsync(script.Hash)).Should().BeTrue("{0} was loaded on {1}", script.Name, master.EndPoint);
            }
        }
    }

    [Fact]
    public async Task AcquireAsync_DeniedOnOneMasterAfterAnother_GivesBackAndReportsEveryEntry()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRule rule = RateLimitRule.FixedWindow(3, TimeSpan.FromMinutes(1));
        (string[] partitions, _) = PartitionsOnOneMaster(store, rule, 2);
        string elsewhere = PartitionOffMaster(store, rule, partitions[0]);
        await store.AcquireAsync(new[] { new RateLimitRequest(partitions[1], rule, 3) }, Memory<RateLimitEntry>.Empty);
        RateLimitRequest[] requests = [new(elsewhere, rule, 2), new(partitions[0], rule, 1), new(partitions[1], rule, 1)];
        RateLimitEntry[] entries = new RateLimitEntry[3];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(2);
        entries.Select(e => e.Count).Should().Equal(0, 0, 3);
        (await CountAsync(store, elsewhere, rule)).Should().Be(0, "a master reserved before the denial gave its permits back");
        (await CountAsync(store, partitions[0], rule)).Should().Be(0, "the denied master's script took nothing");
        store.NodeBatcher!.MembersBatched.Should().BeGreaterThan(0, "the acquire went through the node scripts");
    }

    [Fact]
    public async Task AcquireAsync_ManyCallersOnSeveralConnectionsAcrossMasters_AdmitExactlyTheLimit()
    {
        RedisRateLimitStore[] stores = [CreateStore(), CreateStore(), CreateStore()];
        RateLimitRule global = RateLimitRule.FixedWindow(150, TimeSpan.FromHours(1));
        RateLimitRule tenant = RateLimitRule.SlidingWindow(1000, TimeSpan.FromHours(1), segments: 12);
        RateLimitRule sender = RateLimitRule.FixedWindow(1000, TimeSpan.FromHours(1));
        RateLimitRule recipient = RateLimitRule.SlidingWindow(1000, TimeSpan.FromHours(1), segments: 10);
        int admitted = 0;
        long[] byTenant = new long[4];

        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, caller) =>
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                RateLimitRequest[] requests =
                [
                    new("global", global),
                    new($"tenant:{caller % 4}", tenant),
                    new($"sender:{caller % 16}", sender),
                    new($"rcpt:{caller}:{attempt}", recipient),
                ];
                if ((await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed)
                {
                    Interlocked.Increment(ref admitted);
                    Interlocked.Increment(ref byTenant[caller % 4]);
                }
            }
        });
        long[] tenants = new long[4];
        for (int t = 0; t < tenants.Length; t++)
        {
            tenants[t] = await CountAsync(stores[0], $"tenant:{t}", tenant);
        }

        admitted.Should().Be(150, "only the global limit can deny, so every one of its permits goes to an admitted acquire");
        (await CountAsync(stores[0], "global", global)).Should().Be(150);
        tenants.Should().Equal(byTenant, "a reservation of a denied acquire on another master was given back");
        stores.Sum(s => s.NodeBatcher!.MembersBatched).Should().BeGreaterThan(stores.Sum(s => s.NodeBatcher!.BatchesSent), "acquires of many slots shared node scripts");
    }

    [Fact]
    public async Task AcquireAsync_OnRedis7Cluster_LooksAtTheServersAndDecidesMasterByMaster()
    {
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time);
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromMinutes(1));
        (string[] partitions, _) = PartitionsOnOneMaster(store, rule, 2);
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, rule))];
        store.NodeBatcher.Should().BeNull("nothing is known of the servers before the first acquire across slots");

        await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        await store.NodeScriptsDetectedAsync();
        await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        store.NodeBatcher.Should().NotBeNull();
        store.NodeBatcher!.MembersBatched.Should().Be(1, "the second acquire's two slots went out as one member of a node script");
    }

    private RedisRateLimitStore CreateStore()
        => RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, nodeScripts: true);

    private (string[] Partitions, IServer Master) PartitionsOnOneMaster(RedisRateLimitStore store, RateLimitRule rule, int count)
    {
        ClusterConfiguration configuration = Admin.GetServers()[0].ClusterConfiguration!;
        List<string> found = [];
        HashSet<int> slots = [];
        EndPoint? master = null;
        for (int i = 0; found.Count < count; i++)
        {
            string candidate = $"node-{i}:" + Prefix;
            int slot = Admin.HashSlot(store.CounterKey(candidate, rule));
            EndPoint owner = configuration.GetBySlot(slot)!.EndPoint!;
            if ((master is null || owner.Equals(master)) && slots.Add(slot))
            {
                master = owner;
                found.Add(candidate);
            }
        }

        return ([.. found], Admin.GetServer(master!));
    }

    private string PartitionOffMaster(RedisRateLimitStore store, RateLimitRule rule, string partition)
    {
        ClusterConfiguration configuration = Admin.GetServers()[0].ClusterConfiguration!;
        EndPoint master = configuration.GetBySlot(Admin.HashSlot(store.CounterKey(partition, rule)))!.EndPoint!;
        for (int i = 0; ; i++)
        {
            string candidate = $"off-{i}:" + Prefix;
            if (!configuration.GetBySlot(Admin.HashSlot(store.CounterKey(candidate, rule)))!.EndPoint!.Equals(master))
            {
                return candidate;
            }
        }
    }

    /// <summary>The NOSCRIPT refusals of the masters so far (<c>INFO errorstats</c>).</summary>
    private static async Task<long> NoScriptErrorsAsync(IServer[] masters)
    {
        const string Marker = "errorstat_NOSCRIPT:count=";
        long total = 0;
        foreach (IServer master in masters)
        {
            string info = await master.InfoRawAsync("errorstats") ?? string.Empty;
            int at = info.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                at += Marker.Length;
                int end = at;
                while (end < info.Length && char.IsAsciiDigit(info[end]))
                {
                    end++;
                }

                total += long.Parse(info.AsSpan(at, end - at), CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary>Scripts run by SHA on a master so far (<c>INFO commandstats</c>).</summary>
    private static async Task<long> ScriptCallsAsync(IServer master)
    {
        foreach (IGrouping<string, KeyValuePair<string, string>> section in await master.InfoAsync("commandstats"))
        {
            foreach (KeyValuePair<string, string> pair in section)
            {
                if (pair.Key == "cmdstat_evalsha")
                {
                    string calls = pair.Value.Split(',')[0];
                    return long.Parse(calls["calls=".Length..], CultureInfo.InvariantCulture);
                }
            }
        }

        return 0;
    }
}
