using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The change log: the write and delete scripts that move the version and record each change, and the catch-up read
/// that returns the entries changed since a version when the records chain unbroken to it.
/// </summary>
internal sealed partial class RedisEmailGuardStateStore
{
    /// <summary>
    /// The most change records kept: an instance further behind than this many writes loads the state whole.
    /// </summary>
    internal const int MaxChangeRecords = 10_000;

    private FlagsAt? _flags;
    private long _flagValuesRead;
    private long _flagLoads;

    /// <summary>How many times every flag was read; for tests.</summary>
    internal long FlagLoads => Interlocked.Read(ref _flagLoads);

    /// <summary>How many flag values catch-ups read one by one (not by a whole read of the flags); for tests.</summary>
    internal long FlagValuesRead => Interlocked.Read(ref _flagValuesRead);

    /// <summary>
    /// The largest step a write moves the version by. Each write moves it by a random step from 1 to this, so that a store
    /// that lost its last writes (a failover to a replica that missed them, a restart from an older snapshot or without
    /// persistence) reaches a version an instance holds again only by a chance of about 1 in 8.4 million (2 / (this + 1)):
    /// see <see cref="NextVersion"/>. Versions must stay below 2^53, where Lua's numbers and the log's scores are exact:
    /// at 8.4 million a write on average, that is a billion writes, 2,900 years of a million suppressions a day.
    /// </summary>
    internal const int MaxVersionStep = 1 << 24;

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
    /// How many replicas the primary has connected (<c>connected_slaves</c> of <c>INFO replication</c>) when
    /// <c>ARGV[flag]</c> is <c>1</c>, else -1; -1 too when the server does not say (a script may not run <c>INFO</c> on
    /// every server that speaks the protocol: the write stands either way). Read after the writes, which a script that
    /// ran a command that reads the server's state first could not make on servers that replicate scripts verbatim.
    /// </summary>
    private static string CountReplicas(int flag) => $$"""

        local replicas = -1
        if ARGV[{{flag}}] == '1' then
          local ok, info = pcall(redis.call, 'INFO', 'replication')
          if ok and type(info) == 'string' then replicas = tonumber(string.match(info, 'connected_slaves:(%d+)')) or -1 end
        end
        """;

    /// <summary>
    /// Writes an entry or a flag: its key (with a TTL when it has one), its index member, a new version and the change
    /// record of that version, at once. KEYS: version, index, changes, item key; ARGV: member, JSON, index score, TTL in
    /// ms or empty, the change record's tail, <c>1</c> to return the value the write replaced, <c>1</c> to count the
    /// primary's replicas, the version step, the records to keep. Returns the version, the replaced value (nil when none
    /// or not asked) and the replicas (see <see cref="CountReplicas"/>). The value stored is the same JSON an earlier
    /// EmailGuard writes and reads, so instances of both versions share the state during a rolling upgrade.
    /// </summary>
    private static readonly string s_writeScript = NextVersion + """

        local replaced = false
        if ARGV[6] == '1' then replaced = redis.call('GET', KEYS[4]) end
        if ARGV[4] == '' then redis.call('SET', KEYS[4], ARGV[2]) else redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[4]) end
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
        """ + AddRecord("ARGV[5]") + CountReplicas(7) + """

        return {v, replaced, replicas}
        """;

    /// <summary>
    /// Removes an entry or a flag, with a new version and its change record. KEYS as the write; ARGV: member, record
    /// tail, <c>1</c> to count the primary's replicas, the version step, records to keep. Returns whether a key was
    /// removed (1 or 0) and the replicas.
    /// </summary>
    private static readonly string s_deleteScript = NextVersion + """

        local removed = redis.call('DEL', KEYS[4])
        redis.call('ZREM', KEYS[2], ARGV[1])
        """ + AddRecord("ARGV[2]") + CountReplicas(3) + """

        return {removed, replicas}
        """;

    /// <summary>
    /// Records that a tenant's limits changed: a new version and its change record, which names the tenant
    /// (<c>t:</c> and the id) or every tenant (<c>t*</c>), and nothing else. KEYS: version, changes, changes (the log is
    /// the third key of the shared parts); ARGV: the record's tail, the version step, the records to keep. An EmailGuard
    /// from before these records reads one as a flag change it cannot name and reads its flags again, which is harmless.
    /// </summary>
    private static readonly string s_tenantLimitsScript = NextVersion + AddRecord("ARGV[1]") + """

        return v
        """;

    public async ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken)
    {
        RedisKey[] keys = [_version, _changes, _changes];
        RedisValue[] arguments = [tenantId is null ? "t*" : "t:" + tenantId, VersionStep(), MaxChangeRecords];
        _ = await _connection.WriteAsync(db => db.ScriptEvaluateAsync(s_tenantLimitsScript, keys, arguments), "tenant limits change", _replicaRefusalBudget, _timeProvider, cancellationToken)
            .ConfigureAwait(false);
        return true;
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
        HashSet<string> flagMembers = new(StringComparer.Ordinal);
        HashSet<string>? tenants = null;
        long reached = sinceVersion;
        bool allFlags = false;
        bool allTenants = false;
        foreach (RedisValue record in records)
        {
            string text = record!;
            if (!TryReadTwoNumbers(text, out long recordVersion, out long previous, out int rest) || previous != reached)
            {
                return null;
            }

            reached = recordVersion;
            ReadOnlySpan<char> change = text.AsSpan(rest);
            if (change.StartsWith("l:", StringComparison.Ordinal))
            {
                members.Add(text[(rest + 2)..]);
            }
            else if (change.StartsWith("f:", StringComparison.Ordinal))
            {
                flagMembers.Add(text[(rest + 2)..]);
            }
            else if (change.StartsWith("t:", StringComparison.Ordinal))
            {
                (tenants ??= new(StringComparer.Ordinal)).Add(text[(rest + 2)..]);
            }
            else if (change.SequenceEqual("t*"))
            {
                allTenants = true;
            }
            else
            {
                // "f": an EmailGuard before flags were named in their records changed one; which, it did not say.
                allFlags = true;
            }
        }

        if (reached != version)
        {
            return null;
        }

        string[] names = [.. members];
        RedisValue[] values = await GetValuesAsync(db, "l:", names).ConfigureAwait(false);
        List<EmailGuardListEntry> written = new(names.Length);
        List<EmailGuardListEntryKey> removed = [];
        for (int i = 0; i < names.Length; i++)
        {
            if (!values[i].IsNull && JsonSerializer.Deserialize((string)values[i]!, GuardStateJson.ListEntry) is { } entry)
            {
                written.Add(entry);
            }
            else if (TryParseListMember(names[i], out EmailGuardListEntryKey key))
            {
                removed.Add(key);
            }
        }

        // Most catch-ups follow a suppression: when no flag changed, the flags the caller holds are still the store's,
        // and the flags this store holds for the caller's version hold for the new one too.
        IReadOnlyList<EmailGuardFlag>? flags = null;
        if (allFlags || flagMembers.Count > 0)
        {
            flags = await LoadChangedFlagsAsync(db, sinceVersion, version, allFlags ? null : flagMembers).ConfigureAwait(false);
        }
        else if (Volatile.Read(ref _flags) is { } held && held.Version == sinceVersion)
        {
            Volatile.Write(ref _flags, held with { Version = version });
        }

        return new EmailGuardStateChanges(sinceVersion, version, written, removed, flags)
        {
            TenantLimitsChanged = tenants is null ? [] : [.. tenants],
            AllTenantLimitsChanged = allTenants,
        };
    }

    /// <summary>
    /// Every unexpired flag after the changes to <paramref name="changed"/>: the flags this store last read, at
    /// <paramref name="sinceVersion"/>, with just the changed ones read again, or all of them read when it holds none
    /// for that version or <paramref name="changed"/> is <see langword="null"/> (a change that did not name its flag).
    /// </summary>
    /// <remarks>
    /// The flags a breaker sets grow with the parties an attack uses, like suppressions; reading them all after each
    /// flag write made every instance's work grow with the square of their number. The flags held are as of that version
    /// or later: a flag written since is in the records after it and read again, which changes nothing if it was seen.
    /// </remarks>
    private async Task<IReadOnlyList<EmailGuardFlag>> LoadChangedFlagsAsync(IDatabase db, long sinceVersion, long version, HashSet<string>? changed)
    {
        FlagsAt? held = Volatile.Read(ref _flags);
        if (changed is null || held is null || held.Version != sinceVersion)
        {
            Dictionary<string, EmailGuardFlag> all = await LoadFlagsAsync(db).ConfigureAwait(false);
            RememberFlags(version, all);
            return [.. all.Values];
        }

        string[] names = [.. changed];
        RedisValue[] values = await GetValuesAsync(db, "f:", names).ConfigureAwait(false);
        Interlocked.Add(ref _flagValuesRead, names.Length);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        Dictionary<string, EmailGuardFlag> byName = new(held.ByName.Count + names.Length, StringComparer.Ordinal);
        foreach (KeyValuePair<string, EmailGuardFlag> flag in held.ByName)
        {
            if (flag.Value.IsActive(now))
            {
                byName.Add(flag.Key, flag.Value);
            }
        }

        for (int i = 0; i < names.Length; i++)
        {
            if (!values[i].IsNull && JsonSerializer.Deserialize((string)values[i]!, GuardStateJson.Flag) is { } flag && flag.IsActive(now))
            {
                byName[names[i]] = flag;
            }
            else
            {
                byName.Remove(names[i]);
            }
        }

        Volatile.Write(ref _flags, new FlagsAt(version, byName));
        return [.. byName.Values];
    }

    /// <summary>
    /// Keeps <paramref name="flags"/>, every unexpired flag at <paramref name="version"/> by the name it is stored under,
    /// for the next catch-up to start from. Not by the name this version would give it: a change record carries the
    /// stored name, and a flag an earlier EmailGuard stored under another spelling (a reason with a colon, before
    /// colons were escaped) would otherwise be dropped by a change to the newer spelling that left it stored.
    /// </summary>
    private void RememberFlags(long version, Dictionary<string, EmailGuardFlag> flags)
        => Volatile.Write(ref _flags, new FlagsAt(version, flags));

    /// <summary>The flags this store last read and the version they are as of (or later); never changed once made.</summary>
    private sealed record FlagsAt(long Version, Dictionary<string, EmailGuardFlag> ByName);

    private static bool TryParseListMember(string member, out EmailGuardListEntryKey key)
    {
        if (!TryReadTwoNumbers(member, out long kind, out long partyType, out int rest) || kind > int.MaxValue || partyType > int.MaxValue)
        {
            key = default;
            return false;
        }

        key = new EmailGuardListEntryKey((EmailGuardListKind)kind, (EmailGuardPartyType)partyType, member[rest..]);
        return true;
    }

    /// <summary>
    /// Reads the two numbers a change record (<c>version:previous:change</c>) and a list member (<c>kind:party type:value</c>)
    /// start with, and where the rest begins after the second colon.
    /// </summary>
    private static bool TryReadTwoNumbers(string text, out long first, out long second, out int rest)
    {
        first = second = 0;
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        int next = colon < 0 ? -1 : text.IndexOf(':', colon + 1);
        rest = next + 1;
        return next > 0
            && long.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out first)
            && long.TryParse(text.AsSpan(colon + 1, next - colon - 1), NumberStyles.None, CultureInfo.InvariantCulture, out second);
    }

    private static int VersionStep() => Random.Shared.Next(1, MaxVersionStep + 1);
}
