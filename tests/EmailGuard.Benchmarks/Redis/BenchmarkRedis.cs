using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Redis;

/// <summary>
/// The Redis a Redis benchmark runs on: a local redis-server (or <c>EMAILGUARD_REDIS</c>) through the test fixture, one
/// connection, and a key prefix of its own, so that runs do not count each other's keys. Disposing it stops the server.
/// </summary>
internal sealed class BenchmarkRedis : IAsyncDisposable
{
    private readonly RedisServerFixture _server;

    private BenchmarkRedis(RedisServerFixture server)
    {
        _server = server;
        Multiplexer = server.CreateMultiplexer();
        Database = Multiplexer.GetDatabase();
        Prefix = "bench:" + Guid.NewGuid().ToString("N")[..8] + ":";
    }

    /// <summary>The benchmark's connection.</summary>
    public ConnectionMultiplexer Multiplexer { get; }

    /// <summary>The default database of <see cref="Multiplexer"/>.</summary>
    public IDatabase Database { get; }

    /// <summary>The prefix of every key of this run.</summary>
    public string Prefix { get; }

    /// <summary>Starts (or finds) Redis and connects to it.</summary>
    public static async Task<BenchmarkRedis> StartAsync()
    {
        RedisServerFixture server = new();
        await server.InitializeAsync();
        return new BenchmarkRedis(server);
    }

    /// <summary>Another connection to the same server, as another instance of an app would have.</summary>
    public ConnectionMultiplexer Connect() => _server.CreateMultiplexer();

    /// <summary>
    /// A store on <see cref="Multiplexer"/> with its keys under <see cref="Prefix"/> plus <paramref name="suffix"/>,
    /// and the default options but for what <paramref name="configure"/> sets.
    /// </summary>
    public RedisRateLimitStore Store(string suffix = "", Action<RedisRateLimitStoreOptions>? configure = null)
    {
        RedisRateLimitStoreOptions options = new() { KeyPrefix = Prefix + suffix };
        configure?.Invoke(options);
        return new RedisRateLimitStore(new RedisConnection(Multiplexer, options.KeyPrefix), options, TimeProvider.System);
    }

    /// <summary>Where the time goes while the benchmark runs, with the batches <paramref name="batched"/> sent.</summary>
    public RedisThroughputProfile Profile(RedisRateLimitStore? batched = null)
        => new(Multiplexer.GetServers()[0], () => (batched?.Batcher?.BatchesSent ?? 0, batched?.Batcher?.MembersBatched ?? 0));

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _server.DisposeAsync();
}
