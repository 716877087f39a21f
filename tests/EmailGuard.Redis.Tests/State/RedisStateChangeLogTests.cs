using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using static EmailGuard.Testing.Stores.TestListEntries;

namespace EmailGuard.Redis.Tests.State;

/// <summary>
/// The Redis state store's change log: one record per version, so that an instance catches up by the entries that
/// changed, and loads whole whenever a record is missing (trimmed, or a write by an EmailGuard that kept none, during a
/// rolling upgrade) rather than miss a change.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisStateChangeLogTests(RedisServerFixture redis) : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = new(2026, 12, 4, 9, 0, 0, TimeSpan.Zero);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<(ConnectionMultiplexer Multiplexer, RedisConnection Connection)> _instances = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        ConnectionMultiplexer admin = _instances[0].Multiplexer;
        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(admin, _prefix);
        if (keys.Count > 0)
        {
            await admin.GetDatabase().KeyDeleteAsync([.. keys.Select(k => k.Key)]);
        }

        foreach ((ConnectionMultiplexer multiplexer, RedisConnection connection) in _instances)
        {
            connection.Dispose();
            await multiplexer.DisposeAsync();
        }
    }

    [Fact]
    public async Task TwoInstances_SuppressionsThroughOne_ReachTheOtherByChanges_WithOneFullLoad()
    {
        FakeTimeProvider time = new(s_start);
        (GuardStateCache writerCache, _) = Instance(time);
        (GuardStateCache readerCache, _) = Instance(time);
        EmailGuardLists writer = new(writerCache, Options.Create(new SendGuardOptions()), time);
        await writer.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "first@example.org", "hard_bounce");
        await readerCache.StartRefresh();

        for (int i = 0; i < 50; i++)
        {
            await writer.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"b{i}@example.org", "hard_bounce");
        }

        await writer.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "first@example.org");
        GuardStateSnapshot reader = await readerCache.LoadCurrentSnapshotAsync(CancellationToken.None);

        readerCache.FullLoads.Should().Be(1);
        writerCache.FullLoads.Should().Be(1, "the writer's own reloads after each write are catch-ups too");
        reader.FindBlocked(EmailGuardPartyType.Recipient, "b49@example.org", time.GetUtcNow()).Should().NotBeNull();
        reader.FindBlocked(EmailGuardPartyType.Recipient, "first@example.org", time.GetUtcNow()).Should().BeNull();
        reader.ListEntryCount.Should().Be(50);
    }

    [Fact]
    public async Task AWriteWithoutAChangeRecord_AsAnOlderEmailGuardWritesIt_MakesTheNextCatchUpLoadWhole()
    {
        FakeTimeProvider time = new(s_start);
        (GuardStateCache cache, IEmailGuardStateStore store) = Instance(time);
        await store.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        await cache.StartRefresh();

        // What the previous version's store did: the entry, its index member and the version, in one MULTI, no record.
        string root = $"{_prefix}{{{_prefix}guard}}:";
        ITransaction old = _instances[0].Multiplexer.GetDatabase().CreateTransaction();
        _ = old.StringSetAsync(root + "l:0:0:legacy@example.org", System.Text.Json.JsonSerializer.Serialize(Entry("legacy@example.org"), GuardStateJson.ListEntry));
        _ = old.SortedSetAddAsync(root + "lists", "0:0:legacy@example.org", double.PositiveInfinity);
        _ = old.StringIncrementAsync(root + "version");
        (await old.ExecuteAsync()).Should().BeTrue();
        await store.UpsertListEntryAsync(Entry("new@example.org"), CancellationToken.None);

        (await store.LoadChangesAsync(cache.Version!.Value, CancellationToken.None)).Should().BeNull("a version without its record cannot be caught up by changes");
        GuardStateSnapshot snapshot = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);

        cache.FullLoads.Should().Be(2);
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "legacy@example.org", time.GetUtcNow()).Should().NotBeNull("the older instance's write is not missed");
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "new@example.org", time.GetUtcNow()).Should().NotBeNull();
    }

    [Fact]
    public async Task AnInstanceFurtherBehindThanTheKeptRecords_LoadsWhole_AndTheLogStaysBounded()
    {
        FakeTimeProvider time = new(s_start);
        (GuardStateCache cache, IEmailGuardStateStore store) = Instance(time);
        await cache.StartRefresh();
        long since = cache.Version!.Value;

        int writes = RedisEmailGuardStateStore.MaxChangeRecords + 20;
        for (int batch = 0; batch < writes; batch += 500)
        {
            await Task.WhenAll(Enumerable.Range(batch, Math.Min(500, writes - batch))
                .Select(i => store.UpsertListEntryAsync(Entry($"r{i}@example.org"), CancellationToken.None).AsTask()));
        }

        (await store.LoadChangesAsync(since, CancellationToken.None)).Should().BeNull("the oldest records were trimmed");
        string root = $"{_prefix}{{{_prefix}guard}}:";
        IDatabase db = _instances[0].Multiplexer.GetDatabase();
        (await db.SortedSetLengthAsync(root + "changes")).Should().Be(RedisEmailGuardStateStore.MaxChangeRecords);

        // A record is "version:previous version:change": the oldest kept one starts at the version after the 20th write.
        string oldest = (await db.SortedSetRangeByRankAsync(root + "changes", 0, 0))[0]!;
        long afterTwenty = long.Parse(oldest.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        EmailGuardStateChanges? recent = await store.LoadChangesAsync(afterTwenty, CancellationToken.None);
        recent.Should().NotBeNull("the newest records are kept");
        recent!.ListEntries.Should().HaveCount(RedisEmailGuardStateStore.MaxChangeRecords);

        GuardStateSnapshot snapshot = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        cache.FullLoads.Should().Be(2);
        snapshot.ListEntryCount.Should().Be(writes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AStoreThatLostItsLastWrites_AndThenWroteMoreThanItLost_MakesAnInstanceAheadOfItLoadWhole(bool lostEverything)
    {
        // A failover to a replica that missed the last writes, a restart from an older RDB snapshot, or a restart without
        // persistence (lostEverything): the store's versions go back, and new writes reuse the numbers of the lost ones.
        // An instance that saw the lost writes must not catch up from its version as if the store had kept them: it would
        // miss the new writes below its version and keep the lost entries, until the daily full load.
        FakeTimeProvider time = new(s_start);
        (GuardStateCache reader, IEmailGuardStateStore readerStore) = Instance(time);
        (_, IEmailGuardStateStore writer) = Instance(time);
        await writer.UpsertListEntryAsync(Entry("kept@example.org"), CancellationToken.None);
        long keptVersion = await writer.GetVersionAsync(CancellationToken.None);
        await reader.StartRefresh();
        for (int i = 0; i < 3; i++)
        {
            await writer.UpsertListEntryAsync(Entry($"lost{i}@example.org"), CancellationToken.None);
        }

        long held = (await reader.LoadCurrentSnapshotAsync(CancellationToken.None)).Version;
        await LoseWritesAfterAsync(keptVersion, lostEverything);

        // More writes than were lost, and at least until the store's version passes the instance's.
        for (int i = 0; i < 5 || await writer.GetVersionAsync(CancellationToken.None) <= held; i++)
        {
            await writer.UpsertListEntryAsync(Entry($"new{i}@example.org"), CancellationToken.None);
        }

        GuardStateSnapshot snapshot = await reader.LoadCurrentSnapshotAsync(CancellationToken.None);
        EmailGuardStateData full = await readerStore.LoadAsync(CancellationToken.None);

        DateTimeOffset now = time.GetUtcNow();
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "new0@example.org", now).Should().NotBeNull("the first write after the loss is blocked");
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "lost0@example.org", now).Should().BeNull("the store no longer holds it");
        (snapshot.FindBlocked(EmailGuardPartyType.Recipient, "kept@example.org", now) is not null).Should().Be(!lostEverything);
        snapshot.Data.ListEntries.Should().BeEquivalentTo(full.ListEntries);
        reader.FullLoads.Should().Be(2, "changes from a version the store lost cannot be trusted");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AStoreThatLostItsLastWrites_AndWroteNothingSince_IsTakenAsItIs_ByOneFullLoad(bool lostEverything)
    {
        // The store's version is now below the instance's. A full load reads the older version, and a snapshot of an
        // older version was never put in force (a slow load must not undo a newer one): the instance kept the lost
        // entries, and loaded whole at every refresh, until the store's writes passed its version, without end if none came.
        FakeTimeProvider time = new(s_start);
        (GuardStateCache reader, _) = Instance(time);
        (_, IEmailGuardStateStore writer) = Instance(time);
        await writer.UpsertListEntryAsync(Entry("kept@example.org"), CancellationToken.None);
        long keptVersion = await writer.GetVersionAsync(CancellationToken.None);
        await reader.StartRefresh();
        await writer.UpsertListEntryAsync(Entry("lost0@example.org"), CancellationToken.None);
        _ = await reader.LoadCurrentSnapshotAsync(CancellationToken.None);
        await LoseWritesAfterAsync(keptVersion, lostEverything);

        GuardStateSnapshot snapshot = await reader.LoadCurrentSnapshotAsync(CancellationToken.None);
        GuardStateSnapshot again = await reader.LoadCurrentSnapshotAsync(CancellationToken.None);

        DateTimeOffset now = time.GetUtcNow();
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "lost0@example.org", now).Should().BeNull("the store no longer holds it");
        (snapshot.FindBlocked(EmailGuardPartyType.Recipient, "kept@example.org", now) is not null).Should().Be(!lostEverything);
        snapshot.Version.Should().Be(await writer.GetVersionAsync(CancellationToken.None));
        again.Should().BeSameAs(snapshot, "the store's version is the snapshot's again");
        reader.FullLoads.Should().Be(2);
    }

    [Fact]
    public async Task ConcurrentWritersAndCatchUps_OnThreeInstances_EndAsAFullLoadWouldSee()
    {
        // Two instances add and remove the same few addresses at once while a third catches up over and over, also
        // concurrently with itself: catch-ups must never apply changes out of order or twice into a wrong state.
        FakeTimeProvider time = new(s_start);
        (GuardStateCache first, _) = Instance(time);
        (GuardStateCache second, _) = Instance(time);
        (GuardStateCache reader, IEmailGuardStateStore readerStore) = Instance(time);
        await reader.StartRefresh();
        EmailGuardLists[] writers = [new(first, Options.Create(new SendGuardOptions()), time), new(second, Options.Create(new SendGuardOptions()), time)];
        using CancellationTokenSource done = new();

        Task[] writing = [.. Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            Random random = new(w);
            for (int i = 0; i < 60; i++)
            {
                EmailGuardLists lists = writers[w % 2];
                string address = $"r{random.Next(10)}@example.org";
                if (random.Next(3) == 0)
                {
                    await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, address);
                }
                else
                {
                    await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, address, $"w{w}.{i}");
                }
            }
        }))];
        Task[] reading = [.. Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                await reader.LoadCurrentSnapshotAsync(CancellationToken.None);
            }
        }))];
        await Task.WhenAll(writing);
        await done.CancelAsync();
        await Task.WhenAll(reading);

        GuardStateSnapshot caughtUp = await reader.LoadCurrentSnapshotAsync(CancellationToken.None);
        EmailGuardStateData full = await readerStore.LoadAsync(CancellationToken.None);
        caughtUp.Version.Should().Be(full.Version);
        caughtUp.Data.ListEntries.Should().BeEquivalentTo(full.ListEntries);
        foreach (int i in Enumerable.Range(0, 10))
        {
            string address = $"r{i}@example.org";
            caughtUp.FindBlocked(EmailGuardPartyType.Recipient, address, time.GetUtcNow())?.Reason
                .Should().Be(full.ListEntries.SingleOrDefault(e => e.Value == address)?.Reason, address);
        }
    }

    [Fact]
    public async Task LoadedSuppressions_ShareOneStringPerReasonAndWriter_AndOtherValuesRoundTrip()
    {
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore store) = Instance(time);
        string unique = new('r', PooledStringConverter.MaxPooledLength + 1);
        for (int i = 0; i < 3; i++)
        {
            await store.UpsertListEntryAsync(Entry($"p{i}@example.org", createdBy: "emailguard:feedback:ses"), CancellationToken.None);
        }

        await store.UpsertListEntryAsync(Entry("long@example.org", reason: unique, createdBy: "admin"), CancellationToken.None);
        EmailGuardStateData loaded = await store.LoadAsync(CancellationToken.None);
        EmailGuardStateChanges? changes = await store.LoadChangesAsync(0, CancellationToken.None);

        EmailGuardListEntry[] pooled = [.. loaded.ListEntries.Where(e => e.Value.StartsWith('p')), .. changes!.ListEntries.Where(e => e.Value.StartsWith('p'))];
        pooled.Should().HaveCount(6);
        pooled.Should().OnlyContain(e => ReferenceEquals(e.Reason, pooled[0].Reason) && ReferenceEquals(e.CreatedBy, pooled[0].CreatedBy));
        pooled[0].Reason.Should().Be("hard_bounce");
        pooled[0].CreatedBy.Should().Be("emailguard:feedback:ses");
        loaded.ListEntries.Single(e => e.Value == "long@example.org").Reason.Should().Be(unique, "a value too long to pool reads as it is");
    }

    /// <summary>
    /// Puts the store back to <paramref name="keptVersion"/>, as a replica that had not received the later writes holds
    /// it after a failover; or empties it, as a restart without persistence does.
    /// </summary>
    private async Task LoseWritesAfterAsync(long keptVersion, bool everything)
    {
        IDatabase db = _instances[0].Multiplexer.GetDatabase();
        string root = $"{_prefix}{{{_prefix}guard}}:";
        if (everything)
        {
            IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(_instances[0].Multiplexer, _prefix);
            await db.KeyDeleteAsync([.. keys.Select(k => k.Key)]);
            return;
        }

        await db.StringSetAsync(root + "version", keptVersion);
        await db.SortedSetRemoveRangeByScoreAsync(root + "changes", keptVersion, double.PositiveInfinity, Exclude.Start);
        foreach (RedisValue member in await db.SortedSetRangeByRankAsync(root + "lists"))
        {
            if (((string)member!).Contains("lost", StringComparison.Ordinal))
            {
                await db.KeyDeleteAsync(root + "l:" + (string)member!);
                await db.SortedSetRemoveAsync(root + "lists", member);
            }
        }
    }

    [Fact]
    public async Task ChangesWithoutAFlagWrite_ReadNoFlags_AndAFlagWriteBringsThemAll()
    {
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore store) = Instance(time);
        await store.UpsertFlagAsync(
            new EmailGuardFlag { PartyType = EmailGuardPartyType.Tenant, PartyId = "acme", Reason = "bounces", CreatedAt = s_start, ExpiresAt = s_start.AddHours(1) },
            CancellationToken.None);
        long version = await store.GetVersionAsync(CancellationToken.None);

        await store.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        await store.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org", CancellationToken.None);
        EmailGuardStateChanges? listOnly = await store.LoadChangesAsync(version, CancellationToken.None);
        await store.RemoveFlagAsync(EmailGuardPartyType.Tenant, "acme", "bounces", CancellationToken.None);
        EmailGuardStateChanges? withFlag = await store.LoadChangesAsync(version, CancellationToken.None);

        listOnly!.Flags.Should().BeNull("no flag changed: none were read");
        listOnly.RemovedListEntries.Should().ContainSingle();
        withFlag!.Flags.Should().NotBeNull().And.BeEmpty("the flag was removed, and flags come whole when one changed");
    }

    [Fact]
    public async Task VersionSteps_MakeARegressedStoreAlmostNeverMeetAnInstancesVersion_AndEveryVersionChainsExactly()
    {
        // A store that went back to an older version and wrote on is caught by the chain of records only if none of its
        // new versions lands exactly on the one an instance holds: the chance of that is about 2 / (mean step).
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore store) = Instance(time);
        await store.UpsertListEntryAsync(Entry("first@example.org"), CancellationToken.None);
        long first = await store.GetVersionAsync(CancellationToken.None);
        List<long> versions = [first];
        for (int i = 0; i < 100; i++)
        {
            await store.UpsertListEntryAsync(Entry($"v{i}@example.org"), CancellationToken.None);
            versions.Add(await store.GetVersionAsync(CancellationToken.None));
        }

        EmailGuardStateChanges? changes = await store.LoadChangesAsync(first, CancellationToken.None);
        double meanStep = (versions[^1] - first) / 100.0;

        meanStep.Should().BeGreaterThan(1_000_000, "a step of up to 65,536 left a 1 in 32,768 chance per loss; up to 2^24 leaves about 1 in 8.4 million");
        versions.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        versions[^1].Should().BeLessThan(1L << 53, "Lua's numbers and the log's scores are exact below 2^53");
        changes.Should().NotBeNull("every record chains to the one before, with versions read back exactly through Lua");
        changes!.Version.Should().Be(versions[^1]);
        changes.ListEntries.Should().HaveCount(100);
    }

    [Fact]
    public async Task AFlagWrite_IsCaughtUpByReadingThatFlag_NotEveryFlag()
    {
        // A breaker flags each party of an attack: reading every flag after each flag write made an instance's work grow
        // with the square of their number, as suppressions did before the change log.
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore writer) = Instance(time);
        (_, IEmailGuardStateStore readerStore) = Instance(time);
        RedisEmailGuardStateStore reader = (RedisEmailGuardStateStore)readerStore;
        for (int i = 0; i < 100; i++)
        {
            await writer.UpsertFlagAsync(TenantFlag($"t{i}", "High_Bounce:Rate", s_start.AddHours(1)), CancellationToken.None);
        }

        EmailGuardStateData loaded = await reader.LoadAsync(CancellationToken.None);
        await writer.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        EmailGuardStateChanges? suppression = await reader.LoadChangesAsync(loaded.Version, CancellationToken.None);
        await writer.UpsertFlagAsync(TenantFlag("t100", "spam", s_start.AddHours(1)), CancellationToken.None);
        await writer.UpsertFlagAsync(TenantFlag("t5", "High_Bounce:Rate", s_start.AddHours(2)), CancellationToken.None);
        (await writer.RemoveFlagAsync(EmailGuardPartyType.Tenant, "t7", "high_bounce:rate", CancellationToken.None)).Should().BeTrue();
        await writer.UpsertListEntryAsync(Entry("b@example.org"), CancellationToken.None);
        EmailGuardStateChanges? changes = await reader.LoadChangesAsync(suppression!.Version, CancellationToken.None);
        EmailGuardStateData full = await writer.LoadAsync(CancellationToken.None);

        loaded.Flags.Should().HaveCount(100);
        suppression.Flags.Should().BeNull("no flag changed in between");
        changes!.Flags.Should().BeEquivalentTo(full.Flags, "the flags held, with the three changed ones read again");
        changes.Flags!.Should().HaveCount(100).And.ContainSingle(f => f.PartyId == "t5" && f.ExpiresAt == s_start.AddHours(2));
        reader.FlagLoads.Should().Be(1, "only the load read every flag");
        reader.FlagValuesRead.Should().Be(3);

        // A catch-up from a version this store holds no flags for reads them all, as before.
        EmailGuardStateChanges? fromStart = await reader.LoadChangesAsync(loaded.Version, CancellationToken.None);
        fromStart!.Flags.Should().BeEquivalentTo(full.Flags);
        reader.FlagLoads.Should().Be(2);
    }

    [Fact]
    public async Task AFlagChangeRecordThatNamesNoFlag_AsAnOlderEmailGuardWritesIt_ReadsEveryFlag()
    {
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore store) = Instance(time);
        RedisEmailGuardStateStore reader = (RedisEmailGuardStateStore)store;
        await store.UpsertFlagAsync(TenantFlag("acme", "spam", s_start.AddHours(1)), CancellationToken.None);
        EmailGuardStateData loaded = await store.LoadAsync(CancellationToken.None);

        // The previous version's flag write: the flag, its index member, the version and a record that says only "f".
        string root = $"{_prefix}{{{_prefix}guard}}:";
        IDatabase db = _instances[0].Multiplexer.GetDatabase();
        await db.StringSetAsync(root + "f:3:spam:legacy", System.Text.Json.JsonSerializer.Serialize(TenantFlag("legacy", "spam", s_start.AddHours(1)), GuardStateJson.Flag));
        await db.SortedSetAddAsync(root + "flags", "3:spam:legacy", s_start.AddHours(1).ToUnixTimeMilliseconds());
        await db.ScriptEvaluateAsync(
            "local v = redis.call('INCRBY', KEYS[1], 7) redis.call('ZADD', KEYS[2], v, v .. ':' .. (v - 7) .. ':f') return v",
            [root + "version", root + "changes"]);
        EmailGuardStateChanges? changes = await store.LoadChangesAsync(loaded.Version, CancellationToken.None);

        changes.Should().NotBeNull("the record chains: only which flag changed is unknown");
        changes!.Flags!.Select(f => f.PartyId).Should().BeEquivalentTo(["acme", "legacy"]);
        reader.FlagLoads.Should().Be(2, "a record that names no flag makes the catch-up read them all");
    }

    [Fact]
    public async Task AFlagStoredUnderAnEarlierName_CaughtUpByName_StaysAsAFullLoadSeesIt()
    {
        // Arrange: a flag whose reason holds a colon, stored by an EmailGuard before such reasons were escaped in the
        // flag's name: its key and index member are 3:risk:high:acme, where this version names it 3:risk%3Ahigh:acme.
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore catchingUp) = Instance(time);
        (_, IEmailGuardStateStore other) = Instance(time);
        string root = $"{_prefix}{{{_prefix}guard}}:";
        IDatabase db = _instances[0].Multiplexer.GetDatabase();
        await db.StringSetAsync(root + "f:3:risk:high:acme", System.Text.Json.JsonSerializer.Serialize(TenantFlag("acme", "risk:high", s_start.AddHours(1)), GuardStateJson.Flag));
        await db.SortedSetAddAsync(root + "flags", "3:risk:high:acme", s_start.AddHours(1).ToUnixTimeMilliseconds());
        await catchingUp.UpsertFlagAsync(TenantFlag("globex", "spam", s_start.AddHours(1)), CancellationToken.None);
        EmailGuardStateData loaded = await catchingUp.LoadAsync(CancellationToken.None);
        loaded.Flags.Select(f => f.PartyId).Should().BeEquivalentTo(["acme", "globex"]);

        // Act: another instance removes the flag by this version's name, which stores none; the stored one stays.
        await other.RemoveFlagAsync(EmailGuardPartyType.Tenant, "acme", "risk:high", CancellationToken.None);
        EmailGuardStateChanges? changes = await catchingUp.LoadChangesAsync(loaded.Version, CancellationToken.None);

        // Assert
        EmailGuardStateData full = await other.LoadAsync(CancellationToken.None);
        changes.Should().NotBeNull();
        changes!.Flags!.Select(f => (f.PartyId, f.Reason)).Should().BeEquivalentTo(
            full.Flags.Select(f => (f.PartyId, f.Reason)), "a catch-up ends where a full load would");
    }

    [Fact]
    public async Task ReplaceFlag_OverAFlagAnEarlierVersionWrote_ReturnsItFromTheWrite()
    {
        // Arrange: the JSON an instance of the previous version stores for a suspension (its field names kept since
        // before 1.0), under the name it gives it: during a rolling upgrade a new instance suspends the party again.
        FakeTimeProvider time = new(s_start);
        (_, IEmailGuardStateStore store) = Instance(time);
        string root = $"{_prefix}{{{_prefix}guard}}:";
        IDatabase db = _instances[0].Multiplexer.GetDatabase();
        await db.StringSetAsync(
            root + "f:3:manual:legacy",
            """{"PartyType":3,"PartyId":"legacy","Reason":"manual","FlaggedAt":"2026-12-04T09:00:00+00:00","ExpiresAt":"2026-12-04T10:00:00+00:00","Suspend":true,"LimitFactor":1,"FlaggedBy":"ops"}""");
        await db.SortedSetAddAsync(root + "flags", "3:manual:legacy", s_start.AddHours(1).ToUnixTimeMilliseconds());

        // Act
        EmailGuardFlagReplacement? replacement = await store.ReplaceFlagAsync(TenantFlag("legacy", "Manual", s_start.AddHours(2)), CancellationToken.None);

        // Assert
        replacement.Should().NotBeNull("the Redis store says what its write replaced, so the flag API need not read first");
        replacement!.Replaced.Should().BeEquivalentTo(new
        {
            PartyType = EmailGuardPartyType.Tenant,
            PartyId = "legacy",
            Reason = "manual",
            CreatedAt = s_start,
            ExpiresAt = s_start.AddHours(1),
            Suspend = true,
            CreatedBy = "ops",
        });
        (await store.LoadAsync(CancellationToken.None)).Flags.Should().ContainSingle().Which.ExpiresAt.Should().Be(s_start.AddHours(2));
    }

    private static EmailGuardFlag TenantFlag(string tenant, string reason, DateTimeOffset expiresAt) => new()
    {
        PartyType = EmailGuardPartyType.Tenant,
        PartyId = tenant,
        Reason = reason,
        CreatedAt = s_start,
        ExpiresAt = expiresAt,
    };

    private (GuardStateCache Cache, IEmailGuardStateStore Store) Instance(FakeTimeProvider time)
    {
        ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        RedisConnection connection = new(multiplexer, _prefix);
        _instances.Add((multiplexer, connection));
        RedisEmailGuardStateStore store = new(connection, time);
        return (new GuardStateCache(store, Options.Create(new SendGuardOptions()), time), store);
    }
}
