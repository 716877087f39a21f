using System.Net;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A test class on the shared three-master cluster: its own key prefix, a fake clock, an admin connection, and at the
/// end a scan of every master that fails the test if any key under the prefix has no TTL or one past its window.
/// </summary>
public abstract class RedisClusterTestBase(RedisClusterFixture cluster) : IAsyncLifetime
{
    private protected string Prefix { get; } = RedisServerFixture.UniquePrefix();

    private protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, 123, TimeSpan.Zero));

    private protected ConnectionMultiplexer Admin { get; private set; } = null!;

    private protected RedisClusterFixture Cluster => cluster;

    /// <summary>
    /// Three partitions whose counters under <paramref name="rule"/> lie one on each master, in ascending slot order:
    /// the order in which an acquire over them visits the masters, node by node and slot by slot alike.
    /// </summary>
    private protected string[] OnePartitionPerMasterInAscendingSlots(RedisRateLimitStore store, RateLimitRule rule)
    {
        ClusterConfiguration configuration = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        Dictionary<EndPoint, (string Partition, int Slot)> byMaster = [];
        for (int i = 0; byMaster.Count < 3; i++)
        {
            string candidate = $"master-{i}:" + Prefix;
            int slot = Admin.HashSlot(store.CounterKey(candidate, rule));
            byMaster.TryAdd(configuration.GetBySlot(slot)!.EndPoint!, (candidate, slot));
        }

        return [.. byMaster.Values.OrderBy(v => v.Slot).Select(v => v.Partition)];
    }

    /// <summary>Two partitions whose counters under <paramref name="rule"/> lie in different slots, the lower slot first.</summary>
    private protected (string Low, string High) TwoKeysInAscendingSlots(RedisRateLimitStore store, RateLimitRule rule)
    {
        string first = "slot-a:" + Prefix;
        for (int i = 0; i < 100; i++)
        {
            string second = $"slot-b{i}:" + Prefix;
            int a = Admin.HashSlot(store.CounterKey(first, rule));
            int b = Admin.HashSlot(store.CounterKey(second, rule));
            if (a != b)
            {
                return a < b ? (first, second) : (second, first);
            }
        }

        throw new InvalidOperationException("No two keys in different slots were found.");
    }

    /// <summary>The count of <paramref name="key"/>'s counter under <paramref name="rule"/>, by a peek.</summary>
    private protected static async Task<long> CountAsync(RedisRateLimitStore store, string key, RateLimitRule rule)
    {
        RateLimitEntry[] entry = new RateLimitEntry[1];
        await store.PeekAsync(new[] { new RateLimitRequest(key, rule, 0) }, entry);
        return entry[0].Count;
    }

    /// <summary>The master that serves <paramref name="partition"/>'s counter under <paramref name="rule"/>.</summary>
    private protected IServer MasterOf(RedisRateLimitStore store, string partition, RateLimitRule rule)
    {
        ClusterConfiguration configuration = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        return Admin.GetServer(configuration.GetBySlot(Admin.HashSlot(store.CounterKey(partition, rule)))!.EndPoint!);
    }

    public virtual Task InitializeAsync()
    {
        Admin = cluster.CreateMultiplexer();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(
            Admin, Prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty("every key on every master must expire within its window plus a segment and the grace");
    }
}
