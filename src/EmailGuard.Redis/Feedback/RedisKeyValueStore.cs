using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// <see cref="IEmailGuardKeyValueStore"/> on Redis: each value one string key with a TTL set in the same command
/// (<c>SET … PX</c>), so no key ever exists without one. Each key carries its own hash tag, so on a cluster the keys
/// spread over the slots; single-key commands need no script to be atomic. Keys and values are checked against the
/// contract (<see cref="KeyValueStoreValidation"/>) before any command is sent, as the in-memory store checks them.
/// Its two scripts (add if absent, remove if equal) go through <see cref="RedisScriptRunner"/>, as the counters'
/// scripts do: by SHA, loaded with the connection's scripts, reloaded on the one NOSCRIPT path after a flush or
/// failover, retried while a slot moves.
/// </summary>
internal sealed class RedisKeyValueStore : IEmailGuardKeyValueStore
{
    /// <summary>
    /// Reads the key and sets it only when absent, in one script: <c>SET … NX GET</c> would do it in one command on
    /// Redis 7, but not on every server that speaks the protocol (Garnet). KEYS: the key. ARGV: value, TTL ms.
    /// </summary>
    private static readonly RedisScript s_getOrAdd = new("kv-get-or-add", """
        local v = redis.call('GET', KEYS[1])
        if v then return v end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return false
        """);

    /// <summary>
    /// Deletes the key only while it holds the expected value, in one script: a value another instance stored since is
    /// left alone. Its one write comes after the read, so a read-only replica refuses it before anything changed, and
    /// the runner sends it again to the primary. KEYS: the key. ARGV: the expected value. Returns 1 when it deleted.
    /// </summary>
    private static readonly RedisScript s_remove = new("kv-remove-if-equal", """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        """);

    private readonly RedisConnection _connection;
    private readonly RedisScriptRunner _scripts;
    private readonly string _prefix;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _replicaRefusalBudget;

    /// <param name="connection">The shared connection.</param>
    /// <param name="timeProvider">The clock of the runner's slot-retry budget; the system clock when null.</param>
    /// <param name="logger">The runner's logger.</param>
    /// <param name="timeout">
    /// The resilience timeout; a moving slot is retried, and a write refused by a read-only replica waits for the
    /// primary, for half of it.
    /// </param>
    public RedisKeyValueStore(RedisConnection connection, TimeProvider? timeProvider = null, ILogger? logger = null, TimeSpan? timeout = null)
    {
        _connection = connection;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _replicaRefusalBudget = (timeout ?? new StoreResilienceOptions().Timeout) / 2;
        _scripts = new RedisScriptRunner(_timeProvider, logger ?? NullLogger.Instance, _replicaRefusalBudget, connection);
        _prefix = connection.KeyPrefix;

        // Loaded with the connection's other scripts, so that its first call finds it by SHA.
        connection.KeepLoaded(s_getOrAdd, s_remove);
    }

    public async ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        RedisKey redisKey = KeyOf(key);
        _ = await _connection.WriteAsync(
            db => db.StringSetAsync(redisKey, value, new Expiration(timeToLive)), "key-value write", _replicaRefusalBudget, _timeProvider, cancellationToken)
            .ConfigureAwait(false);
    }

    public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateKey(key);
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisValue value = await database.StringGetAsync(KeyOf(key)).ConfigureAwait(false);
        return value.IsNull ? null : (string?)value;
    }

    public async ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult existing = await _scripts.EvaluateAsync(
            database,
            s_getOrAdd,
            [KeyOf(key)],
            [value, (long)Math.Ceiling(timeToLive.TotalMilliseconds)],
            cancellationToken).ConfigureAwait(false);
        return existing.IsNull ? null : (string?)existing;
    }

    public async ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateRemove(key, expectedValue);
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisResult removed = await _scripts.EvaluateAsync(database, s_remove, [KeyOf(key)], [expectedValue], cancellationToken).ConfigureAwait(false);
        return (long)removed == 1;
    }

    /// <summary>The Redis key: the configured prefix, then the key inside its own hash tag.</summary>
    internal RedisKey KeyOf(string key) => _prefix + "{kv:" + key + "}";
}
