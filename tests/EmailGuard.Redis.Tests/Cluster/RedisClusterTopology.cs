using System.Globalization;
using System.Net;
using EmailGuard.Redis.Tests.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>What the cluster fault tests read of a cluster they started with one replica per master.</summary>
internal static class RedisClusterTopology
{
    /// <summary>
    /// A partition name, <paramref name="stem"/> followed by a number, whose counter of <paramref name="rule"/> under
    /// <paramref name="prefix"/> lands on the master <paramref name="node"/>.
    /// </summary>
    public static string PartitionOn(IConnectionMultiplexer admin, string prefix, EndPoint node, RateLimitRule rule, string stem)
    {
        ClusterConfiguration topology = admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        for (int i = 0; i < 10_000; i++)
        {
            string candidate = string.Create(CultureInfo.InvariantCulture, $"{stem}-{i}");
            if (topology.GetBySlot(admin.HashSlot(RedisCounterKey.Create(prefix, candidate, rule.ShapeId, RedisCounterKey.NoWindow)))!.EndPoint!.Equals(node))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No partition name lands on {node}.");
    }

    /// <summary>The cluster as a node sees it once it knows every master's replica (just after creation it may not yet).</summary>
    public static async Task<ClusterConfiguration> WithReplicasAsync(ConnectionMultiplexer admin, TimeSpan bound, TimeSpan poll)
    {
        ClusterConfiguration? topology = null;
        (await RedisTestServerInfo.WaitUntilAsync(
            async () =>
            {
                IServer server = admin.GetServers().First(s => s.IsConnected);
                topology = await server.ClusterNodesAsync();
                ClusterNode[] masters = [.. topology!.Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0)];
                return masters.Length == 3 && masters.All(m => topology.Nodes.Any(n => n.IsReplica && n.ParentNodeId == m.NodeId));
            },
            bound,
            poll)).Should().BeTrue("every master has its replica");
        return topology!;
    }
}
