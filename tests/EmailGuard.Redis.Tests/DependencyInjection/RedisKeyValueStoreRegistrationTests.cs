using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.DependencyInjection;

/// <summary>
/// <c>AddRedisStore</c> registers its key-value store through <c>AddKeyValueStore</c>, so the two compose as every
/// store registration does: the last call wins, whichever comes first.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisKeyValueStoreRegistrationTests(RedisServerFixture redis) : IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _admin;

    public Task InitializeAsync()
    {
        _admin = redis.CreateMultiplexer();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _admin!.DisposeAsync();

    [Fact]
    public async Task AddRedisStore_KeepsKeyValuesInRedis_ResolvableAsItsStore()
    {
        // Arrange
        ServiceCollection services = new();
        AddRedis(services.AddEmailGuard());
        await using ServiceProvider provider = services.BuildServiceProvider();
        IEmailGuardKeyValueStore store = provider.GetRequiredService<IEmailGuardKeyValueStore>();

        // Act
        await store.SetAsync("registration:key", "value", TimeSpan.FromMinutes(1));

        // Assert
        store.Should().BeOfType<RedisKeyValueStore>().Which.Should().BeSameAs(provider.GetRequiredService<RedisKeyValueStore>());
        services.Count(d => d.ServiceType == typeof(IEmailGuardKeyValueStore)).Should().Be(1);
        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(_admin!, _prefix);
        keys.Should().ContainSingle(k => ((string)k.Key!).Contains("registration:key", StringComparison.Ordinal)).Which.Ttl.Should().NotBeNull();
    }

    [Fact]
    public void AddRedisStore_ThenAddKeyValueStore_TheAppsStoreWins_AndCountersStayInRedis()
    {
        // Arrange
        ServiceCollection services = new();
        IEmailGuardBuilder builder = services.AddEmailGuard();

        // Act
        AddRedis(builder);
        builder.AddKeyValueStore(_ => new RecordingKeyValueStore());
        using ServiceProvider provider = services.BuildServiceProvider();

        // Assert
        provider.GetRequiredService<IEmailGuardKeyValueStore>().Should().BeOfType<RecordingKeyValueStore>();
        provider.GetRequiredService<IRateLimitStore>().Should().BeOfType<RedisRateLimitStore>();
        services.Count(d => d.ServiceType == typeof(IEmailGuardKeyValueStore)).Should().Be(1);
    }

    [Fact]
    public void AddKeyValueStore_ThenAddRedisStore_RedisWins_AsTheLastCall()
    {
        // As for counters and state: the last registration wins, so AddRedisStore after the app's store replaces it.
        // Arrange
        ServiceCollection services = new();
        IEmailGuardBuilder builder = services.AddEmailGuard();

        // Act
        builder.AddKeyValueStore(_ => new RecordingKeyValueStore());
        AddRedis(builder);
        using ServiceProvider provider = services.BuildServiceProvider();

        // Assert
        provider.GetRequiredService<IEmailGuardKeyValueStore>().Should().BeOfType<RedisKeyValueStore>();
        services.Count(d => d.ServiceType == typeof(IEmailGuardKeyValueStore)).Should().Be(1);
    }

    private void AddRedis(IEmailGuardBuilder builder) => builder.AddRedisStore(o =>
    {
        o.Configuration = redis.ConnectionString;
        o.KeyPrefix = _prefix;
    });

    private sealed class RecordingKeyValueStore : IEmailGuardKeyValueStore
    {
        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default) => new((string?)null);

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => new((string?)null);

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default) => new(false);
    }
}
