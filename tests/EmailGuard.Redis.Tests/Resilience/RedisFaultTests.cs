using System.Net;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>Real faults against a real redis-server of the fault tests' own: killed under load and started again, scripts flushed, connections killed.</summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisFaultTests(RedisServerFixture redis, ITestOutputHelper output) : RedisFaultTestsBase(output)
{
    private protected override int Primaries => 1;

    private protected override bool CanControlNodes => redis.CanControlServer;

    private protected override ConfigurationOptions CreateConfiguration() => redis.CreateConfiguration();

    private protected override ConnectionMultiplexer ConnectAdmin() => redis.CreateMultiplexer();

    private protected override void StopNode(EndPoint node) => redis.Stop();

    private protected override async Task<bool> KeepDownAsync(EndPoint node)
    {
        await Task.Delay(TimeSpan.FromSeconds(2), TimeProvider.System);
        return true;
    }

    private protected override Task StartStoppedNodesAsync() => redis.StartAsync();

    private protected override Task WaitForHealthyAsync() => Task.CompletedTask;
}
