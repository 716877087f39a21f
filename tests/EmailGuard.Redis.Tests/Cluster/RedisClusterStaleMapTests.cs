using System.Net;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Node scripts batched on a master by clients whose slot map is stale: an empty slot moves to another master behind
/// the clients' backs, so one node batch mixes members whose keys the master still serves with members that meet the
/// moved slot. Each member must be decided exactly once (the moved ones again, slot by slot), none twice, none lost.
/// On the fault tests' cluster, since moving a slot disturbs the shared one.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterStaleMapTests(RedisFaultClusterFixture cluster) : RedisFaultClusterTestBase(cluster)
{
    [Fact]
    public async Task AcquireAsync_NodeBatchMixesMovedAndServedSlots_EachMemberDecidedOnceNoneLost()
    {
        // Arrange: three instances that know the map; then the slot of "moved" goes from master A to master C unseen.
        RateLimitRule wide = RateLimitRule.FixedWindow(100_000, TimeSpan.FromHours(1));
        RateLimitRule narrow = RateLimitRule.FixedWindow(100, TimeSpan.FromHours(1));
        RedisRateLimitStore[] stores = [.. Enumerable.Range(0, 3).Select(_ => RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, nodeScripts: true))];
        ClusterConfiguration configuration = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        // A serves the top third of the slots, B the bottom: an acquire of the moved slot reserves the shared counter on B
        // first, so a node script that meets the moved slot on A must give B's reservation back.
        EndPoint a = configuration.GetBySlot(16383)!.EndPoint!;
        EndPoint b = configuration.GetBySlot(0)!.EndPoint!;
        EndPoint c = configuration.Nodes.First(n => !n.IsReplica && n.Slots.Count > 0 && !n.EndPoint!.Equals(a) && !n.EndPoint!.Equals(b)).EndPoint!;
        (string moved, int movedSlot) = await EmptySlotPartitionAsync(stores[0], wide, configuration, a);
        string served = PartitionOn(stores[0], wide, configuration, a, "served", movedSlot, fromSlot: 10923);
        string servedToo = PartitionOn(stores[0], wide, configuration, a, "served-too", movedSlot, fromSlot: 10923);
        string shared = PartitionOn(stores[0], narrow, configuration, b, "shared", movedSlot, fromSlot: 0, toSlot: 5460);
        foreach (RedisRateLimitStore store in stores)
        {
            (await store.AcquireAsync(new[] { new RateLimitRequest(served, wide), new RateLimitRequest(shared, narrow, 1) }, Memory<RateLimitEntry>.Empty))
                .IsAllowed.Should().BeTrue("each instance learns the map before the slot moves");
        }

        await MoveEmptySlotAsync(movedSlot, a, c);
        int[] admitted = new int[2];

        // Act: half the callers acquire the served slot and the shared counter, half the moved slot, another served one
        // and the shared counter; the shared counter's limit (100, 3 already taken) denies most of the 384 acquires.
        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, caller) =>
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                bool movedOne = caller % 2 == 1;
                RateLimitRequest[] requests = movedOne
                    ? [new(moved, wide), new(servedToo, wide), new(shared, narrow)]
                    : [new(served, wide), new(shared, narrow)];
                if ((await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed)
                {
                    Interlocked.Increment(ref admitted[movedOne ? 1 : 0]);
                }
            }
        });

        // Assert
        IDatabase database = Admin.GetDatabase();
        long Count(string partition, RateLimitRule rule) => (long)database.StringGet(stores[0].CounterKey(partition, rule));
        (admitted[0] + admitted[1]).Should().Be(97, "the shared counter admits exactly what is left of its limit");
        Count(shared, narrow).Should().Be(100);
        Count(served, wide).Should().Be(3 + admitted[0], "the served slot holds exactly its admitted acquires: none counted twice, none left behind");
        Count(moved, wide).Should().Be(admitted[1], "the moved slot, decided again slot by slot on its new master, holds exactly its admitted acquires");
        Count(servedToo, wide).Should().Be(admitted[1], "the served slot of a member that met the moved slot took nothing in the node script that failed");
        stores.Sum(s => s.NodeFallbacks).Should().BeGreaterThan(0, "node scripts must have met the moved slot, or the test proves nothing");
        stores.Sum(s => s.NodeBatcher!.MembersBatched).Should().BeGreaterThan(stores.Sum(s => s.NodeBatcher!.BatchesSent), "members shared node scripts");
    }

    /// <summary>A partition of <paramref name="master"/> whose slot holds no key yet (a slot that holds keys cannot move without MIGRATE).</summary>
    private async Task<(string Partition, int Slot)> EmptySlotPartitionAsync(RedisRateLimitStore store, RateLimitRule rule, ClusterConfiguration configuration, EndPoint master)
    {
        IServer server = Admin.GetServer(master);
        for (int i = 0; ; i++)
        {
            string candidate = $"moved-{i}:" + Prefix;
            int slot = Admin.HashSlot(store.CounterKey(candidate, rule));
            if (slot >= 10923 && configuration.GetBySlot(slot)!.EndPoint!.Equals(master) && (long)await server.ExecuteAsync("CLUSTER", "COUNTKEYSINSLOT", slot) == 0)
            {
                return (candidate, slot);
            }
        }
    }

    private string PartitionOn(
        RedisRateLimitStore store, RateLimitRule rule, ClusterConfiguration configuration, EndPoint master, string name, int avoidSlot, int fromSlot, int toSlot = 16383)
    {
        for (int i = 0; ; i++)
        {
            string candidate = $"{name}-{i}:" + Prefix;
            int slot = Admin.HashSlot(store.CounterKey(candidate, rule));
            if (slot != avoidSlot && slot >= fromSlot && slot <= toSlot && configuration.GetBySlot(slot)!.EndPoint!.Equals(master))
            {
                return candidate;
            }
        }
    }

    /// <summary>Moves a slot that holds no key as <c>redis-cli --cluster reshard</c> would, on every master, unseen by the stores' clients.</summary>
    private async Task MoveEmptySlotAsync(int slot, EndPoint source, EndPoint target)
    {
        IServer from = Admin.GetServer(source);
        IServer to = Admin.GetServer(target);
        string targetId = from.ClusterConfiguration!.Nodes.Single(n => n.EndPoint!.Equals(target)).NodeId;
        string sourceId = from.ClusterConfiguration!.Nodes.Single(n => n.EndPoint!.Equals(source)).NodeId;
        await to.ExecuteAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
        await from.ExecuteAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
        await to.ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        await from.ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        foreach (IServer other in Admin.GetServers().Where(s => !s.IsReplica && !s.EndPoint.Equals(source) && !s.EndPoint.Equals(target)))
        {
            await other.ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        }
    }
}
