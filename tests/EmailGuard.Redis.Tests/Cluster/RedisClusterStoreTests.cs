using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The store on a three-master Redis Cluster: exact under concurrency, all-or-nothing across slots without CROSSSLOT
/// errors, keys on the slot of the store's own hash tag, and every key on every master with a bounded TTL.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreTests(RedisClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    [Theory]
    [InlineData("fixed")]
    [InlineData("sliding")]
    public async Task AcquireAsync_ManyInstancesOnOneKey_AdmitsExactlyTheLimit(string algorithm)
    {
        RateLimitRule rule = algorithm == "fixed"
            ? RateLimitRule.FixedWindow(500, TimeSpan.FromHours(1))
            : RateLimitRule.SlidingWindow(500, TimeSpan.FromDays(1), segments: 24);
        RedisRateLimitStore[] stores = CreateInstances(8);
        RateLimitRequest[] request = [new("hot", rule)];
        int admitted = 0;

        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, _) =>
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                if ((await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty)).IsAllowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        });

        admitted.Should().Be(500);
        (await CountAsync(stores[0], "hot", rule)).Should().Be(500);
    }

    [Fact]
    public async Task AcquireAsync_ConcurrentAcquiresAcrossSlots_AreAllOrNothingAndNeverOverAdmit()
    {
        RateLimitRule[] rules =
        [
            RateLimitRule.FixedWindow(120, TimeSpan.FromHours(1)),
            RateLimitRule.SlidingWindow(200, TimeSpan.FromHours(1), segments: 12),
            RateLimitRule.FixedWindow(90, TimeSpan.FromDays(1)),
            RateLimitRule.SlidingWindow(150, TimeSpan.FromDays(1), segments: 24),
        ];
        string[] keys = ["tenant:a", "sender:b", "recipient:c", "domain:d"];
        RedisRateLimitStore[] stores = CreateInstances(8);
        int[] slots = [.. keys.Select((k, i) => Admin.HashSlot(stores[0].CounterKey(k, rules[i])))];
        long[] taken = new long[keys.Length];
        int admittedCalls = 0;
        int deniedCalls = 0;

        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, caller) =>
        {
            Random random = new(caller);
            for (int attempt = 0; attempt < 3; attempt++)
            {
                int[] picked = [.. Enumerable.Range(0, keys.Length).OrderBy(_ => random.Next()).Take(random.Next(2, 4))];
                RateLimitRequest[] requests = [.. picked.Select(k => new RateLimitRequest(keys[k], rules[k], random.Next(1, 4)))];
                RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
                RateLimitDecision decision = await store.AcquireAsync(requests, entries);
                if (decision.IsAllowed)
                {
                    Interlocked.Increment(ref admittedCalls);
                    for (int i = 0; i < picked.Length; i++)
                    {
                        Interlocked.Add(ref taken[picked[i]], requests[i].Cost);
                    }
                }
                else
                {
                    Interlocked.Increment(ref deniedCalls);
                }
            }
        });
        long[] counts = new long[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            counts[i] = await CountAsync(stores[0], keys[i], rules[i]);
        }

        slots.Distinct().Should().HaveCount(keys.Length, "the test needs every counter in its own slot");
        admittedCalls.Should().BeGreaterThan(0);
        deniedCalls.Should().BeGreaterThan(0);
        counts.Should().Equal(taken, "reservations of denied acquires were all given back");
        counts.Select((c, i) => c <= rules[i].Limit).Should().AllBeEquivalentTo(true);
    }

    [Fact]
    public async Task AcquireAsync_DeniedInALaterSlot_GivesBackEarlierSlotsAndReportsEveryEntry()
    {
        RedisRateLimitStore store = CreateInstances(1)[0];
        RateLimitRule rule = RateLimitRule.FixedWindow(3, TimeSpan.FromMinutes(1));
        (string low, string high) = TwoKeysInAscendingSlots(store, rule);
        await store.AcquireAsync(new[] { new RateLimitRequest(high, rule, 3) }, Memory<RateLimitEntry>.Empty);
        RateLimitRequest[] requests = [new(high, rule, 1), new(low, rule, 2)];
        RateLimitEntry[] entries = new RateLimitEntry[2];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(0);
        decision.Timestamp.Should().Be(Time.GetUtcNow());
        entries[0].Should().Match<RateLimitEntry>(e => !e.IsAllowed && e.Count == 3);
        entries[1].Should().Match<RateLimitEntry>(e => e.IsAllowed && e.Count == 0);
        (await CountAsync(store, low, rule)).Should().Be(0, "the reservation in the earlier slot was given back");
    }

    [Fact]
    public async Task AcquireAsync_LaterSlotFails_GivesBackEarlierSlotsAndThrows()
    {
        // A master that dies between two slots' scripts is what this stands for; a counter that does not hold an
        // integer in the later slot makes its script fail the same way (a server error), on a cluster every test can
        // share. Not a list: Garnet keeps objects apart from strings, and its GET of a list key answers nil.
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = CreateStore(Cluster.CreateMultiplexer(), logger);
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromMinutes(1));
        (string low, string high) = TwoKeysInAscendingSlots(store, rule);
        string wrongType = store.CounterKey(high, rule);
        await Admin.GetDatabase().StringSetAsync(wrongType, "not a counter", TimeSpan.FromSeconds(30));
        RateLimitRequest[] requests = [new(high, rule, 1), new(low, rule, 4)];

        Func<Task> acquire = async () => await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        await acquire.Should().ThrowAsync<RedisServerException>();
        (await CountAsync(store, low, rule)).Should().Be(0, "the reservation in the earlier slot was given back before the failure surfaced");
        logger.Collector.GetSnapshot().Should().Contain(r => r.Id.Id == 312);
    }

    [Fact]
    public async Task AcquireAsync_AdmittedAcrossSlots_RefundGivesBackEverySlot()
    {
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = CreateStore(Cluster.CreateMultiplexer(), logger);
        RateLimitRule rule = RateLimitRule.SlidingWindow(5, TimeSpan.FromMinutes(10), segments: 10);
        (string low, string high) = TwoKeysInAscendingSlots(store, rule);
        RateLimitRequest[] requests = [new(high, rule, 2), new(low, rule, 3), new(high, rule, 1)];
        RateLimitEntry[] entries = new RateLimitEntry[3];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);
        long highAfter = await CountAsync(store, high, rule);
        await store.RefundAsync(requests, decision);

        decision.IsAllowed.Should().BeTrue();
        entries.Select(e => e.Count).Should().Equal(2, 3, 3);
        highAfter.Should().Be(3);
        (await CountAsync(store, high, rule)).Should().Be(0);
        (await CountAsync(store, low, rule)).Should().Be(0);
        logger.Collector.GetSnapshot().Should().NotContain(r => r.Id.Id == 311, "nothing was denied");
    }

    [Fact]
    public async Task AcquireAsync_KeyWithItsOwnHashTag_LandsOnTheSlotOfTheStoreTag()
    {
        RedisRateLimitStore store = CreateInstances(1)[0];
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromMinutes(1));
        string[] partitions = ["a{x}@b", "{x}", "c{x}d@e", "{}{x}"];

        foreach (string partition in partitions)
        {
            await store.AcquireAsync(new[] { new RateLimitRequest(partition, rule) }, Memory<RateLimitEntry>.Empty);
        }

        int callerChosenSlot = Admin.HashSlot("{x}");
        foreach (string partition in partitions)
        {
            string key = store.CounterKey(partition, rule);
            string tag = key[(key.IndexOf('{', StringComparison.Ordinal) + 1)..key.IndexOf('}', StringComparison.Ordinal)];
            int expectedSlot = Admin.HashSlot("{" + tag + "}");
            IServer owner = OwnerOf(expectedSlot);
            long serverSlot = (long)await owner.ExecuteAsync("CLUSTER", "KEYSLOT", key);

            serverSlot.Should().Be(expectedSlot, "Redis itself must hash {0} by the store's tag", key);
            (await owner.ExecuteAsync("EXISTS", key)).ToString().Should().Be("1", "{0} lives on the master owning slot {1}", key, expectedSlot);
            expectedSlot.Should().NotBe(callerChosenSlot, "the caller's {x} must not choose the slot");
        }
    }

    [Fact]
    public async Task AcquireAsync_AfterScriptFlushOnEveryMaster_ReloadsOnEachNode()
    {
        RedisRateLimitStore store = CreateInstances(1)[0];
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromMinutes(1));
        RateLimitRequest[] requests = [new("p1", rule), new("p2", rule), new("p3", rule), new("p4", rule)];
        await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        foreach (IServer server in Admin.GetServers().Where(s => !s.IsReplica))
        {
            await server.ScriptFlushAsync();
        }

        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.AcquireAsync(requests, entries);

        decision.IsAllowed.Should().BeTrue();
        entries.Should().OnlyContain(e => e.Count == 2);
    }

    [Fact]
    public async Task Connection_OnCluster_KnowsItIsACluster()
    {
        RedisConnection connection = new(Admin, Prefix);

        await connection.GetMultiplexerAsync();

        connection.IsCluster.Should().BeTrue();
        Admin.GetServers().Where(s => !s.IsReplica).Should().HaveCount(3);
    }

    private IServer OwnerOf(int slot)
    {
        ClusterConfiguration configuration = Admin.GetServers()[0].ClusterConfiguration!;
        return Admin.GetServer(configuration.GetBySlot(slot)!.EndPoint);
    }

    private RedisRateLimitStore[] CreateInstances(int count)
    {
        RedisRateLimitStore[] stores = new RedisRateLimitStore[count];
        for (int i = 0; i < count; i++)
        {
            stores[i] = CreateStore(Cluster.CreateMultiplexer());
        }

        return stores;
    }

    private RedisRateLimitStore CreateStore(ConnectionMultiplexer multiplexer, FakeLogger<RedisRateLimitStore>? logger = null)
        => RedisStoreTestBase.CreateStore(multiplexer, Prefix, Time, useServerTime: false, logger);
}
