using System.Diagnostics;
using System.Net;
using EmailGuard.Redis.Tests.Resilience;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The fault tests on a three-master cluster of their own, run as production should run one without replicas
/// (<c>cluster-require-full-coverage no</c>): the master holding the counter is killed under load and stays down until
/// the cluster itself flags it as failed, then restarts with its nodes.conf and rejoins with its slots (and no data).
/// Scripts are flushed and connections killed on every master.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterFaultTests(RedisFaultClusterFixture cluster, ITestOutputHelper output) : RedisFaultTestsBase(output)
{
    /// <summary>How long the load goes on once the cluster agrees the master has failed.</summary>
    private static readonly TimeSpan s_loadWhileFlagged = TimeSpan.FromMilliseconds(500);

    private protected override int Primaries => 3;

    private protected override bool CanControlNodes => cluster.CanControlNodes;

    private protected override ConfigurationOptions CreateConfiguration() => cluster.CreateConfiguration();

    private protected override ConnectionMultiplexer ConnectAdmin() => cluster.CreateMultiplexer();

    private protected override void StopNode(EndPoint node) => cluster.StopNode(node);

    /// <summary>Down until the other masters agree it failed (a node timeout and a round of gossip), then a little longer.</summary>
    private protected override async Task<bool> KeepDownAsync(EndPoint node)
    {
        long since = Stopwatch.GetTimestamp();
        bool flagged = await cluster.WaitUntilFlaggedFailedAsync(node);
        Output.WriteLine($"the other masters flagged {node} as failed {Stopwatch.GetElapsedTime(since).TotalMilliseconds:0} ms after the kill");
        await Task.Delay(s_loadWhileFlagged, TimeProvider.System);
        return flagged;
    }

    private protected override Task StartStoppedNodesAsync() => cluster.StartStoppedNodesAsync();

    private protected override Task WaitForHealthyAsync() => cluster.WaitForHealthyAsync();
}
