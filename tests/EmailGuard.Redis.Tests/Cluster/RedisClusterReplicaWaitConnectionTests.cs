using System.Globalization;
using System.Net;
using EmailGuard.Redis.Tests.Resilience;
using EmailGuard.Redis.Tests.Testing;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using StackExchange.Redis;
using static EmailGuard.Redis.Tests.Testing.RedisTestServerInfo;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// On a cluster, the connection of acquires that wait for replicas (<see cref="RedisConnection.ReplicaWaitConnection"/>)
/// routes by key as the shared one does: an acquire whose counters sit on two masters is reserved on each and waits
/// for each master's replica there, while ordinary acquires on the same master go on over the shared connection.
/// Three masters with a replica each, started for the test; one replica paused (<c>SIGSTOP</c>) and always resumed.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterReplicaWaitConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(30);
    // The store counts on the servers' real clock, and the test reads the counts back after pausing and resuming a
    // replica (seconds on a loaded machine): windows centred on now, as the single-server twin's, so no day ends meanwhile.
    private static readonly RateLimitRule s_highValue = CenteredWindow.PerDay(10);
    private static readonly RateLimitRule s_ordinary = CenteredWindow.PerDay(1_000_000);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    private RedisFailoverClusterFixture Cluster { get; } = new();

    public async Task InitializeAsync()
    {
        await Cluster.InitializeAsync();
        Cluster.CanControlNodes.Should().BeTrue("the test pauses a replica of its own cluster");
    }

    public Task DisposeAsync() => Cluster.DisposeAsync();

    [Fact]
    public async Task HighValueAcquireAcrossTwoMasters_OneReplicaPaused_WaitsOnItsMaster_OrdinaryAcquiresThereCompleteMeanwhile()
    {
        // Arrange: counters on the masters of the lowest and the highest slot; the replica of the first will be paused.
        using ConnectionMultiplexer admin = Cluster.CreateMultiplexer();
        ClusterConfiguration topology = await RedisClusterTopology.WithReplicasAsync(admin, s_bound, TimeSpan.FromMilliseconds(20));
        ClusterNode first = topology.GetBySlot(0)!;
        ClusterNode second = topology.GetBySlot(16383)!;
        ClusterNode paused = topology.Nodes.Single(n => n.IsReplica && n.ParentNodeId == first.NodeId);
        IServer firstServer = admin.GetServer(first.EndPoint!);
        IServer secondServer = admin.GetServer(second.EndPoint!);
        foreach ((IServer master, ClusterNode node) in new[] { (firstServer, first), (secondServer, second) })
        {
            IServer replica = admin.GetServer(topology.Nodes.Single(n => n.IsReplica && n.ParentNodeId == node.NodeId).EndPoint!);
            (await WaitUntilAsync(() => CaughtUpAsync(master, replica))).Should().BeTrue("the replicas start in sync");
        }

        RateLimitRequest[] valuable = [new(RedisClusterTopology.PartitionOn(admin, _prefix, first.EndPoint!, s_highValue, "valuable"), s_highValue), new(RedisClusterTopology.PartitionOn(admin, _prefix, second.EndPoint!, s_highValue, "valuable"), s_highValue)];
        RedisRateLimitStoreOptions options = new()
        {
            KeyPrefix = _prefix,
            ConfigurationOptions = Cluster.CreateConfiguration(),
            WaitForReplicas = 1,
            WaitForReplicasTimeout = TimeSpan.FromSeconds(10),
        };
        await using RedisConnection connection = new(options, null, null);
        RedisRateLimitStore store = new(connection, options, TimeProvider.System);
        (await store.AcquireAsync(new RateLimitRequest[] { new(RedisClusterTopology.PartitionOn(admin, _prefix, first.EndPoint!, s_ordinary, "ordinary-warm"), s_ordinary) }, default)).IsAllowed.Should().BeTrue();
        long firstWaits = await CommandCallsAsync(firstServer, "wait");
        long secondWaits = await CommandCallsAsync(secondServer, "wait");
        (await store.AcquireAsync(valuable, default)).IsAllowed.Should().BeTrue();
        (await CommandCallsAsync(firstServer, "wait")).Should().Be(firstWaits + 1, "the acquire waited on the master of each of its counters");
        (await CommandCallsAsync(secondServer, "wait")).Should().Be(secondWaits + 1);

        Cluster.PauseNode(paused.EndPoint!);
        try
        {
            // Act
            Task<RateLimitDecision> waiting = store.AcquireAsync(valuable, default).AsTask();
            (await WaitUntilAsync(async () => BlockedClients(await InfoAsync(firstServer, "clients")) == 1))
                .Should().BeTrue("the acquire's WAIT blocks on the first master while its replica is paused");
            RateLimitDecision[] ordinary = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => store.AcquireAsync(
                new RateLimitRequest[] { new(RedisClusterTopology.PartitionOn(admin, _prefix, first.EndPoint!, s_ordinary, $"ordinary-{i}"), s_ordinary) }, default).AsTask()));

            // Assert
            ordinary.Should().OnlyContain(d => d.IsAllowed);
            BlockedClients(await InfoAsync(firstServer, "clients")).Should().Be(1, "the ordinary acquires on that master did not queue behind the WAIT");
            waiting.IsCompleted.Should().BeFalse();

            Cluster.ResumeNode(paused.EndPoint!);
            (await waiting.WaitAsync(s_bound)).IsAllowed.Should().BeTrue("the resumed replica acknowledged it");
            RateLimitEntry[] entries = new RateLimitEntry[2];
            await store.PeekAsync(valuable.Select(r => r with { Cost = 0 }).ToArray(), entries);
            entries.Select(e => e.Count).Should().Equal(2, 2);
        }
        finally
        {
            Cluster.ResumeNode(paused.EndPoint!);
        }
    }

    private static long BlockedClients(string clientsInfo)
        => long.Parse(
            clientsInfo.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal))["blocked_clients:".Length..],
            CultureInfo.InvariantCulture);

    private static Task<bool> WaitUntilAsync(Func<Task<bool>> condition) => RedisTestServerInfo.WaitUntilAsync(condition, s_bound, TimeSpan.FromMilliseconds(20));
}
