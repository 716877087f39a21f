using System.Diagnostics.Metrics;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Gives each test its own key prefix and, after the test, checks the TTL invariant on every key the test wrote:
/// a violation fails the test that caused it.
/// </summary>
public abstract class RedisStoreTestBase : IAsyncLifetime
{
    private readonly Func<ConnectionMultiplexer> _connect;

    protected RedisStoreTestBase(RedisServerFixture redis)
    {
        Redis = redis;
        _connect = redis.CreateMultiplexer;
    }

    /// <summary>For suites that also run on the cluster: they only need a way to open a connection.</summary>
    protected RedisStoreTestBase(Func<ConnectionMultiplexer> connect)
    {
        Redis = null!;
        _connect = connect;
    }

    /// <summary>The single-node fixture; null for suites constructed with a connection factory.</summary>
    protected RedisServerFixture Redis { get; }

    protected ConnectionMultiplexer Connect() => _connect();

    protected string Prefix { get; } = RedisServerFixture.UniquePrefix();

    /// <summary>Fake time far from the epoch, at an odd millisecond, so window arithmetic is not trivially aligned.</summary>
    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, 123, TimeSpan.Zero));

    private ConnectionMultiplexer? _admin;

    protected ConnectionMultiplexer Admin => _admin ??= _connect();

    /// <summary>Whether the stores this suite creates send every acquire through the batch script, even alone.</summary>
    protected virtual bool BatchEveryAcquire => false;

    /// <summary>Whether the stores this suite creates decide acquires across cluster slots node by node; null asks the servers.</summary>
    protected virtual bool? NodeScripts => null;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(
            Admin, Prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty("every key the store writes must expire within its window plus a segment and the grace");
    }

    private protected RedisRateLimitStore CreateStore(
        IConnectionMultiplexer? multiplexer = null, bool useServerTime = false, ILogger<RedisRateLimitStore>? logger = null)
        => CreateStore(multiplexer ?? Admin, Prefix, Time, useServerTime, logger, batchEveryAcquire: BatchEveryAcquire, nodeScripts: NodeScripts);

    internal static RedisRateLimitStore CreateStore(
        IConnectionMultiplexer multiplexer,
        string prefix,
        TimeProvider time,
        bool useServerTime = false,
        ILogger<RedisRateLimitStore>? logger = null,
        TimeSpan? overLimitCacheMaxAge = null,
        IMeterFactory? meterFactory = null,
        bool batchEveryAcquire = false,
        bool batchAcrossKeys = true,
        TimeSpan? maxQueueWait = null,
        bool? nodeScripts = null)
    {
        RedisRateLimitStoreOptions options = new()
        {
            KeyPrefix = prefix,
            UseServerTime = useServerTime,
            ConnectionMultiplexerFactory = () => Task.FromResult(multiplexer),
            BatchAcrossKeys = batchAcrossKeys,
        };
        if (overLimitCacheMaxAge is { } maxAge)
        {
            options.OverLimitCacheMaxAge = maxAge;
        }

        return new RedisRateLimitStore(
            new RedisConnection(options, null, null), options, time, logger, maxQueueWait, meterFactory: meterFactory, batchEveryAcquire: batchEveryAcquire, nodeScripts: nodeScripts);
    }

    /// <summary>
    /// The batcher's lanes once the last answered batch has let its callers run: a lane yields once after each batch it
    /// answers before it takes the next or closes, so it can outlive the last caller's answer by a thread-pool pass.
    /// Waits for that (bounded generously: a loaded machine's thread pool can be slow), then returns what is left.
    /// </summary>
    private protected static async Task<int> LanesAfterLastBatchAsync(RedisScriptBatcher batcher)
    {
        for (int i = 0; i < 200 && batcher.LaneCount != 0; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
        }

        return batcher.LaneCount;
    }
}
