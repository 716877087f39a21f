using System.Globalization;
using System.Net;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A party's own copies of a text on Redis Cluster, where a check reserves slot by slot. When the text's slot denies
/// after the party's own counter was reserved, and a master left to read is slow, the denial is answered before its
/// reads: the own counter's entry must not count the copy being given back, or a party exactly at its own limit is a
/// bulk_content trip when another party filled the text. On the fault tests' cluster, since a paused master would stall
/// the shared one.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterOwnCopiesTests(RedisFaultClusterFixture cluster) : RedisFaultClusterTestBase(cluster)
{
    private static readonly TimeSpan s_pause = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_storeTimeout = TimeSpan.FromSeconds(2);
    private static readonly RateLimitRule s_content = RateLimitRule.PerHour(5);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Check_TextFilledByARogueAndDeniedBeforeTheReads_VictimExactlyAtItsOwnLimitIsNotFlagged(bool nodeScripts)
    {
        // Arrange: the victim's own counter on one master, the text on a second, in ascending slots, and the category (read
        // only for the denial's entries) on the third, which is paused when the victim's fifth copy is denied.
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(
            Cluster.CreateMultiplexer(), Prefix, Time, logger: logger, maxQueueWait: s_storeTimeout, nodeScripts: nodeScripts);
        (EmailContent text, string victim, string category) = PlanSlots(store);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero };
        options.Content.Add(s_content);
        options.Categories[category] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1_000));
        options.BulkContent.Trips = 1;
        SendGuardHarness h = new(
            Time, store, new InMemoryEmailGuardStateStore(Time), options, null, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(30) });

        for (int i = 0; i < 4; i++)
        {
            (await h.Guard.CheckAsync(Mail("victim", victim, i, text, category))).IsAllowed.Should().BeTrue();
        }

        (await h.Guard.CheckAsync(Mail("rogue", "rogue", 0, text, category))).IsAllowed.Should().BeTrue("the rogue's copy is the text's fifth");
        (await CounterAsync(store, OwnCopies(text, victim))).Should().Be(4, "the victim's own copies");
        IServer third = MasterOf(store, PartitionKeys.ForId(PartitionKeys.CategoryPrefix, category), s_content);

        // Act: the victim's fifth copy, which alone would have fit (4 + 1 of 5).
        await third.ExecuteAsync("CLIENT", "PAUSE", (long)s_pause.TotalMilliseconds, "WRITE");
        Task<EmailSendDecision> check = h.Guard.CheckAsync(Mail("victim", victim, 4, text, category)).AsTask();
        await WaitUntilAsync(() => logger.Collector.GetSnapshot().Any(r => r.Id.Id == 311));

        // The wait for the reads may start its timer on the fake clock just after a move: move it until the check is answered.
        await WaitUntilAsync(() =>
        {
            Time.Advance(s_storeTimeout);
            return check.IsCompleted;
        });
        EmailSendDecision decision = await check;
        await third.ExecuteAsync("CLIENT", "UNPAUSE");
        await store.SettledAsync().WaitAsync(s_hangGuard);

        // Assert
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2870, "the denial was answered before its reads");
        decision.Dimension.Should().Be(EmailGuardDimension.Content, "the rogue's copy filled the text");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, victim)).Should().BeEmpty("its own 4 copies and this one are the limit, not over it");
        (await CounterAsync(store, OwnCopies(text, victim))).Should().Be(4, "the fifth copy's reservation was given back");
    }

    /// <summary>
    /// A give-back that fails (2830: here a reset tombstone of another type refuses it before it writes, as a master that
    /// died after it reserved would fail it). The denial itself is no trip for a party exactly at its own limit: the
    /// failed group is not read again, so its entry counts the copies before this one (before, the read counted the
    /// copy left held, 5 + 1 of 5, and flagged the innocent party at once). Pinned, the case docs/content.md leaves
    /// open: the copy stays on the party's own counter until the window ends, so its next denied copy is a trip. Not
    /// retried: the give-back carries no marker, so a retry after a reply that was lost would give back twice.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Check_GiveBackOfTheOwnCounterFails_DeniedCopyStaysCounted_AndTheNextDenialIsATrip(bool nodeScripts)
    {
        // Arrange: the victim's 4 copies and the rogue's 1 fill the text (5 an hour); a flag at the first trip.
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time, logger: logger, nodeScripts: nodeScripts);
        (EmailContent text, string victim, string category) = PlanSlots(store);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero };
        options.Content.Add(s_content);
        options.Categories[category] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1_000));
        options.BulkContent.Trips = 1;
        SendGuardHarness h = new(Time, store, new InMemoryEmailGuardStateStore(Time), options, null);
        for (int i = 0; i < 4; i++)
        {
            (await h.Guard.CheckAsync(Mail("victim", victim, i, text, category))).IsAllowed.Should().BeTrue();
        }

        (await h.Guard.CheckAsync(Mail("rogue", "rogue", 0, text, category))).IsAllowed.Should().BeTrue();
        string tombstone = RedisCounterKey.Tombstone(Prefix, OwnCopies(text, victim), s_content.ShapeId, s_content.GetWindowIndex(Time.GetUtcNow().ToUnixTimeMilliseconds()));
        await Admin.GetDatabase().HashSetAsync(tombstone, "not", "a tombstone");
        await Admin.GetDatabase().KeyExpireAsync(tombstone, TimeSpan.FromMinutes(5));

        // Act: the victim's fifth copy is denied by the text and its own reservation is not given back; then the
        // tombstone is gone and its sixth copy is denied too.
        EmailSendDecision fifth = await h.Guard.CheckAsync(Mail("victim", victim, 4, text, category));
        await store.SettledAsync();
        IReadOnlyList<EmailGuardFlag> afterFifth = await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, victim);
        long ownAfterFifth = await CounterAsync(store, OwnCopies(text, victim));
        await Admin.GetDatabase().KeyDeleteAsync(tombstone);
        EmailSendDecision sixth = await h.Guard.CheckAsync(Mail("victim", victim, 5, text, category));
        await store.SettledAsync();

        // Assert
        (fifth.Dimension, sixth.Dimension).Should().Be((EmailGuardDimension.Content, EmailGuardDimension.Content));
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2830, "the failed give-back is logged");
        afterFifth.Should().BeEmpty("the fifth copy's own entry counts the copies before it, not the one left held: 4 + 1 of 5 is no trip");
        ownAfterFifth.Should().Be(5, "the denied fifth copy stays on the victim's own counter");
        (await CounterAsync(store, OwnCopies(text, victim))).Should().Be(5, "the sixth copy's reservation was given back");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, victim)).Select(f => f.Reason).Should().Equal(
            [EmailGuardFlagReasons.BulkContent], "pinned: the copy left counted reads the victim over its own limit, 5 + 1 of 5");
    }

    private static OutboundEmail Mail(string name, string tenant, int i, EmailContent text, string category) => new()
    {
        To = [string.Create(CultureInfo.InvariantCulture, $"r{i}@{name}-partners.example")],
        TenantId = tenant,
        Category = category,
        Content = text,
    };

    private static string OwnCopies(EmailContent text, string tenant)
        => PartitionKeys.ForOwnCopies(ContentFingerprint.Compute(text), PartitionKeys.ForId(PartitionKeys.TenantPrefix, tenant));

    /// <summary>
    /// A text whose counter lies on one master, a victim tenant whose own copies of it lie on another in a lower slot, and
    /// a category on the third master in a higher slot: reserved, denied and left to read, in that order, by both paths.
    /// </summary>
    private (EmailContent Text, string Victim, string Category) PlanSlots(RedisRateLimitStore store)
    {
        ClusterConfiguration configuration = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        (int Slot, EndPoint Master) Place(string partition)
        {
            int slot = Admin.HashSlot(store.CounterKey(partition, s_content));
            return (slot, configuration.GetBySlot(slot)!.EndPoint!);
        }

        for (int t = 0; t < 1_000; t++)
        {
            EmailContent text = new()
            {
                Subject = "Purchase order from Northwind",
                // Words, not digits: the fingerprint reads every number alike.
                TextBody = $"Please find attached our purchase order for the {Word(t)} collection, delivery as agreed.",
            };
            (int textSlot, EndPoint textMaster) = Place(PartitionKeys.ContentPrefix + ContentFingerprint.Compute(text));
            string? victim = Enumerable.Range(0, 200).Select(v => string.Create(CultureInfo.InvariantCulture, $"victim-{v}"))
                .FirstOrDefault(v => Place(OwnCopies(text, v)) is var own && own.Slot < textSlot && !own.Master.Equals(textMaster));
            if (victim is null)
            {
                continue;
            }

            EndPoint victimMaster = Place(OwnCopies(text, victim)).Master;
            string? category = Enumerable.Range(0, 200).Select(c => string.Create(CultureInfo.InvariantCulture, $"share-{c}"))
                .FirstOrDefault(c => Place(PartitionKeys.ForId(PartitionKeys.CategoryPrefix, c)) is var at && at.Slot > textSlot
                    && !at.Master.Equals(textMaster) && !at.Master.Equals(victimMaster)
                    && !Place(PartitionKeys.ForId(PartitionKeys.BulkContentTenantPrefix, victim)).Master.Equals(at.Master));
            if (category is not null)
            {
                return (text, victim, category);
            }
        }

        throw new InvalidOperationException("No text, victim and category in the wanted slots.");
    }

    private static string Word(int n) => string.Concat(n.ToString(CultureInfo.InvariantCulture).Select(d => (char)('a' + d - '0')));

    private async Task<long> CounterAsync(RedisRateLimitStore store, string partition)
        => (long)await Admin.GetDatabase().StringGetAsync(store.CounterKey(partition, s_content));

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using CancellationTokenSource guard = new(s_hangGuard);
        while (!condition())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, guard.Token);
        }
    }
}
