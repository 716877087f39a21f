using System.Globalization;
using System.Text.Json;
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
internal sealed class RedisEmailGuardStateStore : IEmailGuardStateStore
{
    /// <summary>How long the flag event log lives after its last write.</summary>
    internal static readonly TimeSpan EventLogRetention = TimeSpan.FromDays(90);

    /// <summary>
    /// The most change records kept: an instance further behind than this many writes loads the state whole.
    /// </summary>
    internal const int MaxChangeRecords = 10_000;

    private const int ReadBatch = 500;

    /// <summary>
    /// The largest step a write moves the version by. Each write moves it by a random step from 1 to this, so that a store
    /// that lost its last writes (a failover to a replica that missed them, a restart from an older snapshot or without
    /// persistence) reaches a version an instance holds again only by a 1 in 32,768 chance: see <see cref="NextVersion"/>.
    /// </summary>
    internal const int MaxVersionStep = 65_536;

    /// <summary>
    /// Moves the version by the step <c>ARGV[#ARGV - 1]</c> and starts the version's change record,
    /// <c>version:previous version:</c>. The records chain each version to the one before, so a reader knows the records
    /// after its version are complete exactly when the first one starts at its version and each starts where the one
    /// before ends: a version written without its record (trimmed, or by an older EmailGuard that kept none) breaks the
    /// chain, and so do writes of a store that went back to an older version and wrote on, since the new chain starts
    /// below the reader's version and, by the random steps, almost never passes through it. A version counter that was
    /// lost (0) starts a new log: the old records would only be mistaken for new ones.
    /// </summary>
    private const string NextVersion = """
        local step = tonumber(ARGV[#ARGV - 1])
        local v = redis.call('INCRBY', KEYS[1], step)
        local prev = v - step
        if prev == 0 then redis.call('DEL', KEYS[3]) end
        local record = string.format('%d:%d:', v, prev)
        """;

    /// <summary>Adds the change record <c>record .. tail</c> scored by its version and trims the log to its newest <c>ARGV[#ARGV]</c> records.</summary>
    private static string AddRecord(string tail) => $"""
        redis.call('ZADD', KEYS[3], v, record .. {tail})
        local keep = tonumber(ARGV[#ARGV])
        local n = redis.call('ZCARD', KEYS[3])
        if n > keep then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, n - keep - 1) end
        """;

    /// <summary>
    /// Writes an entry or a flag: its key (with a TTL when it has one), its index member, a new version and the change
    /// record of that version, at once. KEYS: version, index, changes, item key; ARGV: member, JSON, index score, TTL in
    /// ms or empty, the change record's tail, the version step, the records to keep.
    /// </summary>
    private static readonly string s_writeScript = NextVersion + """

        if ARGV[4] == '' then redis.call('SET', KEYS[4], ARGV[2]) else redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4]) end
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
        """ + AddRecord("ARGV[5]") + """

        return v
        """;

    /// <summary>
    /// Removes an entry or a flag, with a new version and its change record. KEYS as the write; ARGV: member, record
    /// tail, the version step, records to keep.
    /// </summary>
    private static readonly string s_deleteScript = NextVersion + """

        local removed = redis.call('DEL', KEYS[4])
        redis.call('ZREM', KEYS[2], ARGV[1])
        """ + AddRecord("ARGV[2]") + """

        return removed
        """;

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly string _root;
    private readonly RedisKey _version;
    private readonly RedisKey _listIndex;
    private readonly RedisKey _flagIndex;
    private readonly RedisKey _events;
    private readonly RedisKey _changes;

    public RedisEmailGuardStateStore(RedisConnection connection, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connection = connection;
        _timeProvider = timeProvider;
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
        await db.SortedSetRemoveRangeByScoreAsync(_listIndex, double.NegativeInfinity, nowMs, Exclude.None).ConfigureAwait(false);
        await db.SortedSetRemoveRangeByScoreAsync(_flagIndex, double.NegativeInfinity, nowMs, Exclude.None).ConfigureAwait(false);

        List<EmailGuardListEntry> entries = await ReadAllAsync(db, _listIndex, "l:", GuardStateJson.ListEntry).ConfigureAwait(false);
        List<EmailGuardFlag> flags = await ReadAllAsync(db, _flagIndex, "f:", GuardStateJson.Flag).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        flags.RemoveAll(f => !f.IsActive(now));
        return new EmailGuardStateData(version.IsNull ? 0 : (long)version, entries, flags);
    }

    public async ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
    {
        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);

        // The version and the records after the caller's, read at one instant: every version between has its record
        // unless it was trimmed or written by an EmailGuard that kept none, and then the caller loads whole.
        ITransaction read = db.CreateTransaction();
        Task<RedisValue> versionRead = read.StringGetAsync(_version);
        Task<RedisValue[]> recordsRead = read.SortedSetRangeByScoreAsync(_changes, sinceVersion, double.PositiveInfinity, Exclude.Start);
        await read.ExecuteAsync().ConfigureAwait(false);
        RedisValue versionValue = await versionRead.ConfigureAwait(false);
        RedisValue[] records = await recordsRead.ConfigureAwait(false);
        long version = versionValue.IsNull ? 0 : (long)versionValue;

        // Complete only if the records chain from the caller's version to the store's (see NextVersion).
        HashSet<string> members = new(StringComparer.Ordinal);
        long reached = sinceVersion;
        foreach (RedisValue record in records)
        {
            string text = record!;
            int first = text.IndexOf(':', StringComparison.Ordinal);
            int second = first < 0 ? -1 : text.IndexOf(':', first + 1);
            if (second < 0
                || !long.TryParse(text.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture, out long recordVersion)
                || !long.TryParse(text.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long previous)
                || previous != reached)
            {
                return null;
            }

            reached = recordVersion;
            if (text.AsSpan(second + 1).StartsWith("l:", StringComparison.Ordinal))
            {
                members.Add(text[(second + 3)..]);
            }
        }

        if (reached != version)
        {
            return null;
        }

        List<EmailGuardListEntry> written = new(members.Count);
        List<EmailGuardListEntryKey> removed = [];
        string[] names = [.. members];
        for (int offset = 0; offset < names.Length; offset += ReadBatch)
        {
            int count = Math.Min(ReadBatch, names.Length - offset);
            RedisKey[] keys = new RedisKey[count];
            for (int i = 0; i < count; i++)
            {
                keys[i] = _root + "l:" + names[offset + i];
            }

            RedisValue[] values = await db.StringGetAsync(keys).ConfigureAwait(false);
            for (int i = 0; i < count; i++)
            {
                if (!values[i].IsNull && JsonSerializer.Deserialize((string)values[i]!, GuardStateJson.ListEntry) is { } entry)
                {
                    written.Add(entry);
                }
                else if (TryParseListMember(names[offset + i], out EmailGuardListEntryKey key))
                {
                    removed.Add(key);
                }
            }
        }

        long nowMs = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        await db.SortedSetRemoveRangeByScoreAsync(_flagIndex, double.NegativeInfinity, nowMs, Exclude.None).ConfigureAwait(false);
        List<EmailGuardFlag> flags = await ReadAllAsync(db, _flagIndex, "f:", GuardStateJson.Flag).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        flags.RemoveAll(f => !f.IsActive(now));
        return new EmailGuardStateChanges(sinceVersion, version, written, removed, flags);
    }

    public async ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
    {
        string member = ListMember(entry.Kind, entry.PartyType, entry.Value);
        DateTimeOffset? keepUntil = entry.ExpiresAt + IEmailGuardStateStore.ExpiredEntryRetention;
        await WriteAsync(
            _listIndex,
            "l:" + member,
            member,
            JsonSerializer.Serialize(entry, GuardStateJson.ListEntry),
            keepUntil,
            cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
        => DeleteAsync(_listIndex, "l:", ListMember(kind, partyType, value), cancellationToken);

    public async ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
    {
        string member = FlagMember(flag.PartyType, flag.PartyId, flag.Reason);
        await WriteAsync(
            _flagIndex,
            "f:" + member,
            member,
            JsonSerializer.Serialize(flag, GuardStateJson.Flag),
            flag.ExpiresAt,
            cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
        => DeleteAsync(_flagIndex, "f:", FlagMember(partyType, partyId, reason), cancellationToken);

    public async ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken)
    {
        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        ITransaction transaction = db.CreateTransaction();
        _ = transaction.ListLeftPushAsync(_events, JsonSerializer.Serialize(flagEvent, GuardStateJson.FlagEvent));
        _ = transaction.ListTrimAsync(_events, 0, IEmailGuardStateStore.MaxFlagEvents - 1);
        _ = transaction.KeyExpireAsync(_events, EventLogRetention);
        await transaction.ExecuteAsync().ConfigureAwait(false);
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

    private static bool TryParseListMember(string member, out EmailGuardListEntryKey key)
    {
        key = default;
        int first = member.IndexOf(':', StringComparison.Ordinal);
        int second = first < 0 ? -1 : member.IndexOf(':', first + 1);
        if (second < 0
            || !int.TryParse(member.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture, out int kind)
            || !int.TryParse(member.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int partyType))
        {
            return false;
        }

        key = new EmailGuardListEntryKey((EmailGuardListKind)kind, (EmailGuardPartyType)partyType, member[(second + 1)..]);
        return true;
    }

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

    private async ValueTask WriteAsync(RedisKey index, string keySuffix, string member, string json, DateTimeOffset? keepUntil, CancellationToken cancellationToken)
    {
        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        TimeSpan? ttl = null;
        RedisValue score = "+inf";
        if (keepUntil is { } until)
        {
            // Never write a key without its TTL: an entry that is already past keeping gets a 1 ms TTL.
            ttl = until - _timeProvider.GetUtcNow();
            ttl = ttl < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : ttl;
            score = until.ToUnixTimeMilliseconds();
        }

        // A list change names its entry, so readers load just it; a flag change only says that flags changed (they load whole).
        string record = index == _listIndex ? keySuffix : "f";
        try
        {
            _ = await db.ScriptEvaluateAsync(
                s_writeScript,
                [_version, index, _changes, _root + keySuffix],
                [member, json, score, ttl is { } expiry ? (long)Math.Ceiling(expiry.TotalMilliseconds) : RedisValue.EmptyString, record, VersionStep(), MaxChangeRecords]).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ReplicaRefused(ex))
        {
            // Never reached: the filter only observes.
            throw;
        }
    }

    private async ValueTask<bool> DeleteAsync(RedisKey index, string keyPrefix, string member, CancellationToken cancellationToken)
    {
        IDatabase db = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            RedisResult removed = await db.ScriptEvaluateAsync(
                s_deleteScript,
                [_version, index, _changes, _root + keyPrefix + member],
                [member, keyPrefix == "l:" ? keyPrefix + member : "f", VersionStep(), MaxChangeRecords]).ConfigureAwait(false);
            return (long)removed > 0;
        }
        catch (RedisServerException ex) when (ReplicaRefused(ex))
        {
            // Never reached: the filter only observes.
            throw;
        }
    }

    /// <summary>
    /// As an exception filter that never catches: a write refused as a read-only replica (<c>READONLY</c>) tells the
    /// connection that a failover went unseen, so that it looks for the primary again instead of sending every list and
    /// flag write to the replica until the client's periodic check. The write still fails, and the caller hears so.
    /// </summary>
    private bool ReplicaRefused(RedisServerException exception)
    {
        if (RedisPrimaryRefresh.IsReplicaRefusal(exception.Message))
        {
            _connection.ReplicaRefused(exception.Message);
        }

        return false;
    }

    private static int VersionStep() => Random.Shared.Next(1, MaxVersionStep + 1);

    private async Task<List<T>> ReadAllAsync<T>(IDatabase db, RedisKey index, string keyPrefix, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        RedisValue[] members = await db.SortedSetRangeByRankAsync(index, 0, -1).ConfigureAwait(false);
        List<T> items = new(members.Length);
        for (int offset = 0; offset < members.Length; offset += ReadBatch)
        {
            int count = Math.Min(ReadBatch, members.Length - offset);
            RedisKey[] keys = new RedisKey[count];
            for (int i = 0; i < count; i++)
            {
                keys[i] = _root + keyPrefix + (string)members[offset + i]!;
            }

            RedisValue[] values = await db.StringGetAsync(keys).ConfigureAwait(false);
            foreach (RedisValue value in values)
            {
                if (!value.IsNull && JsonSerializer.Deserialize((string)value!, type) is { } item)
                {
                    items.Add(item);
                }
            }
        }

        return items;
    }
}
