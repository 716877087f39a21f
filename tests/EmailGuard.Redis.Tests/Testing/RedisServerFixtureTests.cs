using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Testing;

[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisServerFixtureTests(RedisServerFixture redis)
{
    [Fact]
    public async Task CreateMultiplexer_Called_ReturnsSeparateAdminConnections()
    {
        ConnectionMultiplexer first = redis.CreateMultiplexer();
        ConnectionMultiplexer second = redis.CreateMultiplexer();
        string key = RedisServerFixture.UniquePrefix() + "k";

        await first.GetDatabase().StringSetAsync(key, "v", TimeSpan.FromSeconds(10));
        RedisValue read = await second.GetDatabase().StringGetAsync(key);

        first.Should().NotBeSameAs(second);
        read.ToString().Should().Be("v");
        first.GetServers()[0].Features.Scripting.Should().BeTrue();
        await first.GetServers()[0].ScriptFlushAsync(); // only allowed with AllowAdmin
    }

    [Fact]
    public void UniquePrefix_CalledTwice_ReturnsDifferentBraceFreePrefixes()
    {
        string first = RedisServerFixture.UniquePrefix();
        string second = RedisServerFixture.UniquePrefix();

        first.Should().NotBe(second).And.StartWith("t:").And.EndWith(":").And.HaveLength(11);
        first.Should().NotContainAny("{", "}");
    }

    [Fact]
    public async Task StopAndStart_LocalServer_ServerComesBackOnSamePort()
    {
        if (!redis.CanControlServer)
        {
            // Only a local process can be restarted; under EMAILGUARD_REDIS this test asserts the guard instead.
            Action stop = redis.Stop;
            stop.Should().Throw<NotSupportedException>();
            return;
        }

        ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        int port = redis.Port;

        redis.Stop();
        Func<Task> pingWhileDown = () => multiplexer.GetDatabase().PingAsync();
        await pingWhileDown.Should().ThrowAsync<RedisException>();
        await redis.StartAsync();

        redis.Port.Should().Be(port);
        TimeSpan latency = await PingUntilReconnectedAsync(multiplexer);
        latency.Should().BeGreaterThanOrEqualTo(TimeSpan.Zero);
    }

    private static async Task<TimeSpan> PingUntilReconnectedAsync(ConnectionMultiplexer multiplexer)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await multiplexer.GetDatabase().PingAsync();
            }
            catch (RedisException) when (attempt < 200)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
        }
    }
}
