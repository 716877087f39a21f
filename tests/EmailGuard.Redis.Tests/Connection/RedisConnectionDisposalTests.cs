using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Connection;

/// <summary>
/// A connection connects on its first command, which for the replica-wait connection (made on first use, disposed with
/// the store's) can come at any time, shutdown included: a dispose while it connects must not leave the multiplexer open.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisConnectionDisposalTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Dispose_WhileConnecting_TheMultiplexerIsClosed()
    {
        // Arrange: the first command starts connecting; the connect completes over the network, after the dispose.
        RedisConnection connection = new(
            new RedisRateLimitStoreOptions { KeyPrefix = RedisServerFixture.UniquePrefix(), ConfigurationOptions = redis.CreateConfiguration() }, null, null);
        ValueTask<IDatabase> connecting = connection.GetDatabaseAsync();

        // Act
        connection.Dispose();
        Func<Task> finishing = async () => await connecting;

        // Assert
        await finishing.Should().ThrowAsync<ObjectDisposedException>("the connection was disposed before it was connected");
        connection.ConnectedMultiplexer.Should().Match<IConnectionMultiplexer?>(
            m => m == null || !m.IsConnected, "a multiplexer connected after its owner was disposed is closed, not left open");
    }
}
