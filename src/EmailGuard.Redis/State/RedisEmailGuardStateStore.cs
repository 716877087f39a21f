using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Blocklists, allowlists, flags and flag events in Redis, shared by every app instance.
/// </summary>
/// <remarks>
/// <para>
/// Each list entry and flag is its own string key with a TTL when it has an expiry (a list entry is kept
/// <see cref="IEmailGuardStateStore.ExpiredEntryRetention"/> past its expiry so "include expired" listings can show it). Sorted
/// sets index them (score = when the key expires), so listing reads the index instead of scanning keys with KEYS, and
/// pruning the index is a ZREMRANGEBYSCORE. A version counter changes on every write, so instances reload only after a change.
/// </para>
/// <para>
/// All keys share the hash tag <c>{&lt;prefix&gt;guard}</c>: the state is small, and one slot keeps every write a single
/// script, and the read of the version with the change log one MULTI/EXEC, on Redis Cluster too.
/// </para>
/// </remarks>
internal sealed partial class RedisEmailGuardStateStore : IEmailGuardStateStore
{
    /// <summary>How long the flag event log lives after its last write.</summary>
    internal static readonly TimeSpan EventLogRetention = TimeSpan.FromDays(90);

    /// <summary>
    /// Appends a flag event, keeps the newest ones and renews the log's TTL, at once. A script rather than MULTI/EXEC:
    /// a demoted primary refuses a transaction as <c>EXECABORT</c>, which hides its <c>READONLY</c>, while a script
    /// fails at its first write with it, nothing written, and goes again to the primary the connection finds
    /// (<see cref="RedisConnection.WriteAsync"/>). KEYS: the log; ARGV: the event, the last index kept, the TTL ms.
    /// </summary>
    private const string AppendEventScript = """
        redis.call('LPUSH', KEYS[1], ARGV[1])
        redis.call('LTRIM', KEYS[1], 0, ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    private const int ReadBatch = 500;

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly string _root;
    private readonly RedisKey _version;
    private readonly RedisKey _listIndex;
    private readonly RedisKey _flagIndex;
    private readonly RedisKey _events;
    private readonly RedisKey _changes;
    private readonly TimeSpan _replicaRefusalBudget;
    private readonly ILogger _logger;

    /// <param name="connection">The shared connection.</param>
    /// <param name="timeProvider">The app's clock.</param>
    /// <param name="timeout">
    /// The resilience timeout, which bounds every write: a write refused by a read-only replica waits for the primary
    /// for half of it (<see cref="RedisConnection.WriteAsync"/>), and a wait for replicas ends with a quarter of it left.
    /// </param>
    /// <param name="options">The Redis options, for the replicas a flag or list write waits for; the defaults when none.</param>
    /// <param name="logger">Where a write its replicas did not acknowledge is reported.</param>
    /// <param name="meterFactory">The host's meter factory, for the replication outcomes; none records nothing.</param>
    public RedisEmailGuardStateStore(
        RedisConnection connection,
        TimeProvider timeProvider,
        TimeSpan? timeout = null,
        RedisRateLimitStoreOptions? options = null,
        ILogger<RedisEmailGuardStateStore>? logger = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connection = connection;
        _timeProvider = timeProvider;
        TimeSpan bound = timeout ?? new StoreResilienceOptions().Timeout;
        _replicaRefusalBudget = bound / 2;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        ConfigureReplicaWait(options ?? new RedisRateLimitStoreOptions(), bound, meterFactory);
        _root = $"{connection.KeyPrefix}{{{connection.KeyPrefix}guard}}:";
        _version = _root + "version";
        _listIndex = _root + "lists";
        _flagIndex = _root + "flags";
        _events = _root + "events";
        _changes = _root + "changes";
    }

    public async ValueTask<long> GetVersionAsync(CancellationToken cancellationToken)
    {
        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisValue version = await db.StringGetAsync(_version).ConfigureAwait(false);
        return version.IsNull ? 0 : (long)version;
    }

    public async ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken)
    {
        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        long nowMs = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

        // Read the version first: a write that lands while loading bumps it again, so the next refresh reloads.
        RedisValue version = await db.StringGetAsync(_version).ConfigureAwait(false);
        await PruneAsync(_listIndex, nowMs, cancellationToken).ConfigureAwait(false);

        List<EmailGuardListEntry> entries = await ReadAllAsync(db, _listIndex, "l:", GuardStateJson.ListEntry).ConfigureAwait(false);
        Dictionary<string, EmailGuardFlag> flags = await LoadFlagsAsync(db).ConfigureAwait(false);
        long loaded = version.IsNull ? 0 : (long)version;
        RememberFlags(loaded, flags);
        return new EmailGuardStateData(loaded, entries, [.. flags.Values]);
    }

    public async ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
    {
        string member = ListMember(entry.Kind, entry.PartyType, entry.Value);
        DateTimeOffset? keepUntil = entry.ExpiresAt + IEmailGuardStateStore.ExpiredEntryRetention;
        _ = await WriteAsync(
            _listIndex,
            "l:" + member,
            member,
            JsonSerializer.Serialize(entry, GuardStateJson.ListEntry),
            keepUntil,
            returnReplaced: false,
            cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
        => DeleteAsync(_listIndex, "l:", ListMember(kind, partyType, value), cancellationToken);

    public async ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
        => _ = await WriteFlagAsync(flag, returnReplaced: false, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Writes the flag and returns the one its script found under the same name just before: one call, so a suspension
    /// is in force as soon as Redis answers it. A value an earlier EmailGuard stored reads the same (the JSON is
    /// unchanged); one that cannot be read at all counts as none, as it would count at a load.
    /// </summary>
    public async ValueTask<EmailGuardFlagReplacement?> ReplaceFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
    {
        RedisValue replaced = await WriteFlagAsync(flag, returnReplaced: true, cancellationToken).ConfigureAwait(false);
        if (replaced.IsNull)
        {
            return EmailGuardFlagReplacement.None;
        }

        try
        {
            return JsonSerializer.Deserialize((string)replaced!, GuardStateJson.Flag) is { } old ? new EmailGuardFlagReplacement(old) : EmailGuardFlagReplacement.None;
        }
        catch (JsonException)
        {
            return EmailGuardFlagReplacement.None;
        }
    }

    private ValueTask<RedisValue> WriteFlagAsync(EmailGuardFlag flag, bool returnReplaced, CancellationToken cancellationToken)
    {
        string member = FlagMember(flag.PartyType, flag.PartyId, flag.Reason);
        return WriteAsync(
            _flagIndex,
            "f:" + member,
            member,
            JsonSerializer.Serialize(flag, GuardStateJson.Flag),
            flag.ExpiresAt,
            returnReplaced,
            cancellationToken);
    }

    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
        => DeleteAsync(_flagIndex, "f:", FlagMember(partyType, partyId, reason), cancellationToken);

    public async ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken)
    {
        RedisKey[] keys = [_events];
        RedisValue[] arguments =
            [JsonSerializer.Serialize(flagEvent, GuardStateJson.FlagEvent), IEmailGuardStateStore.MaxFlagEvents - 1, (long)EventLogRetention.TotalMilliseconds];
        _ = await _connection.WriteAsync(db => db.ScriptEvaluateAsync(AppendEventScript, keys, arguments), "flag event", _replicaRefusalBudget, _timeProvider, cancellationToken)
            .ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            // LRANGE 0 -1 is the whole list: asking for none must not read all of them.
            return [];
        }

        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisValue[] values = await db.ListRangeAsync(_events, 0, Math.Min(max, IEmailGuardStateStore.MaxFlagEvents) - 1).ConfigureAwait(false);
        List<EmailGuardFlagEvent> events = new(values.Length);
        foreach (RedisValue value in values)
        {
            if (JsonSerializer.Deserialize((string)value!, GuardStateJson.FlagEvent) is { } flagEvent)
            {
                events.Add(flagEvent);
            }
        }

        return events;
    }

    private static string ListMember(EmailGuardListKind kind, EmailGuardPartyType partyType, string value)
        => string.Create(CultureInfo.InvariantCulture, $"{(int)kind}:{(int)partyType}:{value}");

    /// <summary>
    /// A flag's name: one per party and reason, the reason folded to lower case as the store contract says. The reason's
    /// <c>%</c> and <c>:</c> are escaped, so the colon after it ends it and a reason with a colon cannot make the name of
    /// another party's flag (reason <c>a:b</c> of <c>c</c> against reason <c>a</c> of <c>b:c</c>); names of reasons
    /// without them are unchanged, so flags stored before still match.
    /// </summary>
    private static string FlagMember(EmailGuardPartyType partyType, string partyId, string reason)
    {
        string folded = reason.ToLowerInvariant();
        if (folded.AsSpan().IndexOfAny('%', ':') >= 0)
        {
            folded = folded.Replace("%", "%25", StringComparison.Ordinal).Replace(":", "%3A", StringComparison.Ordinal);
        }

        return string.Create(CultureInfo.InvariantCulture, $"{(int)partyType}:{folded}:{partyId}");
    }

    /// <summary>Writes an entry or a flag, then waits for its replicas (<see cref="AwaitReplicasAsync"/>).</summary>
    /// <returns>The value the write replaced when <paramref name="returnReplaced"/>, else nil.</returns>
    private async ValueTask<RedisValue> WriteAsync(
        RedisKey index, string keySuffix, string member, string json, DateTimeOffset? keepUntil, bool returnReplaced, CancellationToken cancellationToken)
    {
        long started = _timeProvider.GetTimestamp();
        TimeSpan? ttl = null;
        RedisValue score = "+inf";
        if (keepUntil is { } until)
        {
            // Never write a key without its TTL: an entry that is already past keeping gets a 1 ms TTL.
            ttl = until - _timeProvider.GetUtcNow();
            ttl = ttl < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : ttl;
            score = until.ToUnixTimeMilliseconds();
        }

        // The change record's tail is the item's key suffix: a change names its entry or flag, so readers load just it.
        RedisKey[] keys = [_version, index, _changes, _root + keySuffix];
        RedisValue[] arguments =
        [
            member, json, score, ttl is { } expiry ? (long)Math.Ceiling(expiry.TotalMilliseconds) : RedisValue.EmptyString, keySuffix,
            returnReplaced ? 1 : 0, _waitForReplicas > 0 ? 1 : 0, VersionStep(), MaxChangeRecords,
        ];
        RedisResult result = await _writeConnection.WriteAsync(db => db.ScriptEvaluateAsync(s_writeScript, keys, arguments), "state write", _replicaRefusalBudget, _timeProvider, cancellationToken)
            .ConfigureAwait(false);
        RedisResult[] reply = (RedisResult[])result!;
        await AwaitReplicasAsync((long)reply[2], started).ConfigureAwait(false);
        return (RedisValue)reply[1];
    }

    /// <summary>Removes an entry or a flag, then waits for its replicas (<see cref="AwaitReplicasAsync"/>).</summary>
    private async ValueTask<bool> DeleteAsync(RedisKey index, string keyPrefix, string member, CancellationToken cancellationToken)
    {
        long started = _timeProvider.GetTimestamp();
        RedisKey[] keys = [_version, index, _changes, _root + keyPrefix + member];
        RedisValue[] arguments = [member, keyPrefix + member, _waitForReplicas > 0 ? 1 : 0, VersionStep(), MaxChangeRecords];
        RedisResult result = await _writeConnection.WriteAsync(db => db.ScriptEvaluateAsync(s_deleteScript, keys, arguments), "state delete", _replicaRefusalBudget, _timeProvider, cancellationToken)
            .ConfigureAwait(false);
        RedisResult[] reply = (RedisResult[])result!;
        await AwaitReplicasAsync((long)reply[1], started).ConfigureAwait(false);
        return (long)reply[0] > 0;
    }

    /// <summary>
    /// Removes the members kept until <paramref name="nowMs"/> or before from an index. A write like the others: a
    /// demoted primary refuses it (<c>READONLY</c>), and it goes again once the connection has looked for the primary,
    /// so that a full load after a failover (which breaks the change chain, so every instance loads whole) is not
    /// failed by its housekeeping, and its reads go to the new primary.
    /// </summary>
    private Task<long> PruneAsync(RedisKey index, long nowMs, CancellationToken cancellationToken)
        => _connection.WriteAsync(
            db => db.SortedSetRemoveRangeByScoreAsync(index, double.NegativeInfinity, nowMs, Exclude.None), "state prune", _replicaRefusalBudget, _timeProvider, cancellationToken);

    /// <summary>
    /// Every unexpired flag, with the flag index pruned of the expired ones first, by the name it is stored under: the
    /// name the change records of its writes and removals carry (a flag an earlier EmailGuard stored may have a name this
    /// version would spell differently, see <see cref="FlagMember"/>).
    /// </summary>
    private async Task<Dictionary<string, EmailGuardFlag>> LoadFlagsAsync(IDatabase db)
    {
        Interlocked.Increment(ref _flagLoads);
        long nowMs = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        await PruneAsync(_flagIndex, nowMs, CancellationToken.None).ConfigureAwait(false);
        List<string> names = [];
        List<EmailGuardFlag> flags = await ReadAllAsync(db, _flagIndex, "f:", GuardStateJson.Flag, names).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        Dictionary<string, EmailGuardFlag> byName = new(flags.Count, StringComparer.Ordinal);
        for (int i = 0; i < flags.Count; i++)
        {
            if (flags[i].IsActive(now))
            {
                byName[names[i]] = flags[i];
            }
        }

        return byName;
    }

    /// <summary>The items of an index, in its order; with <paramref name="names"/>, the index member of each item read, in the same order.</summary>
    private async Task<List<T>> ReadAllAsync<T>(
        IDatabase db, RedisKey index, string keyPrefix, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, List<string>? names = null)
        where T : class
    {
        RedisValue[] members = await db.SortedSetRangeByRankAsync(index, 0, -1).ConfigureAwait(false);
        string[] memberNames = Array.ConvertAll(members, static m => (string)m!);
        RedisValue[] values = await GetValuesAsync(db, keyPrefix, memberNames).ConfigureAwait(false);
        List<T> items = new(values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            if (!values[i].IsNull && JsonSerializer.Deserialize((string)values[i]!, type) is { } item)
            {
                items.Add(item);
                names?.Add(memberNames[i]);
            }
        }

        return items;
    }

    /// <summary>The values of the keys <paramref name="keyPrefix"/> + each member, in order (null where none), read <see cref="ReadBatch"/> at a time.</summary>
    private async Task<RedisValue[]> GetValuesAsync(IDatabase db, string keyPrefix, string[] members)
    {
        RedisValue[] values = new RedisValue[members.Length];
        for (int offset = 0; offset < members.Length; offset += ReadBatch)
        {
            int count = Math.Min(ReadBatch, members.Length - offset);
            RedisKey[] keys = new RedisKey[count];
            for (int i = 0; i < count; i++)
            {
                keys[i] = _root + keyPrefix + members[offset + i];
            }

            RedisValue[] batch = await db.StringGetAsync(keys).ConfigureAwait(false);
            batch.CopyTo(values, offset);
        }

        return values;
    }
}
