using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// <see cref="IEmailGuardKeyValueStore"/> on Redis: each value one string key with a TTL set in the same command
/// (<c>SET … PX</c>), so no key ever exists without one. Each key carries its own hash tag, so on a cluster the keys
/// spread over the slots; single-key commands need no script to be atomic.
/// </summary>
internal sealed class RedisKeyValueStore(RedisConnection connection) : IEmailGuardKeyValueStore
{
    private readonly string _prefix = connection.KeyPrefix;

    public async ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeToLive, TimeSpan.Zero);
        IDatabase database = await connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        await database.StringSetAsync(KeyOf(key), value, new Expiration(timeToLive)).ConfigureAwait(false);
    }

    public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        IDatabase database = await connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisValue value = await database.StringGetAsync(KeyOf(key)).ConfigureAwait(false);
        return value.IsNull ? null : (string?)value;
    }

    /// <summary>The Redis key: the configured prefix, then the key inside its own hash tag.</summary>
    internal RedisKey KeyOf(string key) => _prefix + "{kv:" + key + "}";
}
