using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static EmailGuard.Testing.Stores.TestListEntries;

namespace EmailGuard.Tests.State;

/// <summary>
/// An instance keeps its blocklist current by the store's changes, not by loading it whole after each write: with
/// suppressions written one by one as bounces arrive, loading the whole list each time made keeping up cost the square of
/// the list. The catch-up must give the same answers a full load gives.
/// </summary>
public sealed class StateCatchUpTests
{
    private static readonly DateTimeOffset s_start = new(2026, 12, 4, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SuppressionsWrittenOneByOne_AreCaughtUpByChanges_WithOneFullLoad()
    {
        const int Existing = 5_000;
        const int Bounces = 300;
        FakeTimeProvider time = new(s_start);
        ControllableStateStore store = new(time);
        for (int i = 0; i < Existing; i++)
        {
            await store.Inner.UpsertListEntryAsync(Entry($"old{i}@example.org"), CancellationToken.None);
        }

        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        EmailGuardLists lists = new(cache, Options.Create(new SendGuardOptions()), time);
        await cache.StartRefresh();

        for (int i = 0; i < Bounces; i++)
        {
            // As the feedback path suppresses: look the address up, then list it.
            (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"new{i}@example.org")).Should().BeNull();
            await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"New{i}@Example.org", "hard_bounce");
            cache.Current!.FindBlocked(EmailGuardPartyType.Recipient, $"new{i}@example.org", time.GetUtcNow()).Should().NotBeNull($"bounce {i} applies at once on this instance");
        }

        store.Loads.Should().Be(1, "only the first load reads the whole list");
        store.LoadedEntries.Should().Be(Existing + Bounces, "keeping up read each new suppression once, not the whole list after each");
        GuardStateSnapshot snapshot = cache.Current!;
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "old4999@example.org", time.GetUtcNow()).Should().NotBeNull();
        snapshot.Data.ListEntries.Should().HaveCount(Existing + Bounces);
        (await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, Take = 10 })).TotalCount.Should().Be(Existing + Bounces);
    }

    [Fact]
    public async Task AnotherInstancesWrites_ReachThisOneAtItsNextRefresh_ByChanges()
    {
        FakeTimeProvider time = new(s_start);
        ControllableStateStore store = new(time);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions { StateRefreshInterval = TimeSpan.FromSeconds(5) }), time);
        await store.Inner.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        await cache.StartRefresh();

        // Another instance removes one entry and adds two, straight in the store.
        await store.Inner.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org", CancellationToken.None);
        await store.Inner.UpsertListEntryAsync(Entry("b@example.org"), CancellationToken.None);
        await store.Inner.UpsertListEntryAsync(Entry("c@example.org", EmailGuardListKind.Allowlist), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(6));
        GuardStateSnapshot? snapshot = await cache.GetAsync(CancellationToken.None);

        snapshot!.Version.Should().Be(await store.Inner.GetVersionAsync(CancellationToken.None));
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "a@example.org", time.GetUtcNow()).Should().BeNull();
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "b@example.org", time.GetUtcNow()).Should().NotBeNull();
        snapshot.FindAllowed(EmailGuardPartyType.Recipient, "c@example.org", time.GetUtcNow()).Should().NotBeNull();
        snapshot.HasAllows.Should().BeTrue();
        store.Loads.Should().Be(1);
    }

    [Fact]
    public async Task TwoStoredSpellingsOfOneAddress_TheLongerLivedIsInForce_AndRemovingOneByChangesLeavesTheOther()
    {
        // An entry written in another spelling (by an older version, or straight into the store) still matches; of two
        // spellings the one that expires last is in force, also when they come and go one change at a time.
        FakeTimeProvider time = new(s_start);
        ControllableStateStore store = new(time);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await store.Inner.UpsertListEntryAsync(Entry("Victim@Example.ORG", expiresAt: s_start.AddDays(30)), CancellationToken.None);
        await cache.StartRefresh();
        DateTimeOffset now = time.GetUtcNow();
        cache.Current!.FindBlocked(EmailGuardPartyType.Recipient, "victim@example.org", now)!.ExpiresAt.Should().Be(s_start.AddDays(30));

        await store.Inner.UpsertListEntryAsync(Entry("victim@example.org", expiresAt: s_start.AddDays(1)), CancellationToken.None);
        GuardStateSnapshot shorter = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        shorter.FindBlocked(EmailGuardPartyType.Recipient, "victim@example.org", now)!.ExpiresAt.Should().Be(s_start.AddDays(30), "a shorter spelling does not shorten the block");
        shorter.StoredValues(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.org")
            .Should().BeEquivalentTo(["victim@example.org", "Victim@Example.ORG"], "unlisting the address removes every spelling");

        await store.Inner.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "Victim@Example.ORG", CancellationToken.None);
        GuardStateSnapshot oneLeft = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        oneLeft.FindBlocked(EmailGuardPartyType.Recipient, "victim@example.org", now)!.ExpiresAt.Should().Be(s_start.AddDays(1), "the other spelling is still listed");

        await store.Inner.UpsertListEntryAsync(Entry("VICTIM@example.org"), CancellationToken.None);
        GuardStateSnapshot forever = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        forever.FindBlocked(EmailGuardPartyType.Recipient, "victim@example.org", now)!.ExpiresAt.Should().BeNull("an entry without expiry outlives every other");

        await store.Inner.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "VICTIM@example.org", CancellationToken.None);
        await store.Inner.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.org", CancellationToken.None);
        GuardStateSnapshot none = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        none.FindBlocked(EmailGuardPartyType.Recipient, "victim@example.org", now).Should().BeNull();
        none.HasBlocks.Should().BeFalse();
        store.Loads.Should().Be(1);
    }

    [Fact]
    public async Task UnsubscribesComeAndGoByChanges_AndTheCategoryLookupFollows()
    {
        FakeTimeProvider time = new(s_start);
        ControllableStateStore store = new(time);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await cache.StartRefresh();
        cache.Current!.HasCategoryRecipientBlocks.Should().BeFalse();

        await store.Inner.UpsertListEntryAsync(Entry("news:a@example.org", partyType: EmailGuardPartyType.CategoryRecipient), CancellationToken.None);
        (await cache.LoadCurrentSnapshotAsync(CancellationToken.None)).HasCategoryRecipientBlocks.Should().BeTrue();

        await store.Inner.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.CategoryRecipient, "news:a@example.org", CancellationToken.None);
        (await cache.LoadCurrentSnapshotAsync(CancellationToken.None)).HasCategoryRecipientBlocks.Should().BeFalse();
        store.Loads.Should().Be(1);
    }

    [Fact]
    public async Task AStoreThatReportsNoChanges_IsLoadedWhole_AsBefore()
    {
        FakeTimeProvider time = new(s_start);
        InMemoryEmailGuardStateStore inner = new(time);
        NoChangesStateStore store = new(inner);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await cache.StartRefresh();

        await inner.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        GuardStateSnapshot snapshot = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);

        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "a@example.org", time.GetUtcNow()).Should().NotBeNull();
        cache.FullLoads.Should().Be(2);
    }

    [Fact]
    public async Task ADayAfterTheLastFullLoad_TheNextCatchUpLoadsWhole_DroppingEntriesPastRetention()
    {
        // Entries that expired past retention leave the store without a change record; a daily full load drops them
        // from memory.
        FakeTimeProvider time = new(s_start);
        ControllableStateStore store = new(time);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await store.Inner.UpsertListEntryAsync(Entry("brief@example.org", expiresAt: s_start.AddHours(1)), CancellationToken.None);
        await cache.StartRefresh();

        time.Advance(IEmailGuardStateStore.ExpiredEntryRetention + TimeSpan.FromHours(2));
        await store.Inner.UpsertListEntryAsync(Entry("later@example.org"), CancellationToken.None);
        GuardStateSnapshot snapshot = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);

        store.Loads.Should().Be(2);
        snapshot.ListEntryCount.Should().Be(1, "the entry expired past retention is gone from memory");
    }

    [Fact]
    public async Task ACatchUpOvertakenByAnother_IsDropped_NotAppliedOverTheNewerState()
    {
        // Catch-up A reads the changes up to version 1, then stalls; B reads up to version 2 and applies them. A's
        // changes, older than what is in force, must not be applied over it: X would go back to A's reading of it
        // and the version back to 1.
        FakeTimeProvider time = new(s_start);
        InMemoryEmailGuardStateStore inner = new(time);
        GatedChangesStore store = new(inner);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await cache.StartRefresh();

        await inner.UpsertListEntryAsync(Entry("x@example.org", reason: "first"), CancellationToken.None);
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        store.HoldNext = gate;
        Task<GuardStateSnapshot> stalled = cache.LoadCurrentSnapshotAsync(CancellationToken.None).AsTask();
        await store.Held.Task;

        await inner.UpsertListEntryAsync(Entry("x@example.org", reason: "second"), CancellationToken.None);
        GuardStateSnapshot overtaking = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        overtaking.Version.Should().Be(2);
        gate.SetResult();
        GuardStateSnapshot late = await stalled;

        late.Version.Should().Be(2);
        cache.Current!.Version.Should().Be(2);
        cache.Current.FindBlocked(EmailGuardPartyType.Recipient, "x@example.org", time.GetUtcNow())!.Reason.Should().Be("second");
    }

    [Fact]
    public async Task AScheduledFullLoadThatFails_LeavesCatchUpsGoing_AndIsTriedAgainAnHourLater()
    {
        // A list too large to load within the load timeout fails its daily full load every time: that must not stop
        // the instance from keeping up by changes.
        FakeTimeProvider time = new(s_start);
        InMemoryEmailGuardStateStore inner = new(time);
        LoadFailingStore store = new(inner);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await cache.StartRefresh();
        store.FailLoads = true;

        time.Advance(GuardStateCache.FullLoadInterval + TimeSpan.FromMinutes(1));
        await inner.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        GuardStateSnapshot afterFailure = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(30));
        await inner.UpsertListEntryAsync(Entry("b@example.org"), CancellationToken.None);
        GuardStateSnapshot withinTheHour = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        int attemptsWithinTheHour = store.LoadAttempts;
        time.Advance(GuardStateCache.FullLoadRetry);
        store.FailLoads = false;
        await inner.UpsertListEntryAsync(Entry("c@example.org"), CancellationToken.None);
        GuardStateSnapshot afterTheRetry = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);

        afterFailure.FindBlocked(EmailGuardPartyType.Recipient, "a@example.org", time.GetUtcNow()).Should().NotBeNull("the failed full load fell back to the changes");
        withinTheHour.FindBlocked(EmailGuardPartyType.Recipient, "b@example.org", time.GetUtcNow()).Should().NotBeNull();
        attemptsWithinTheHour.Should().Be(2, "the first load, then the failed scheduled one; none again within the hour");
        store.LoadAttempts.Should().Be(3, "an hour later the scheduled full load is tried again");
        cache.FullLoads.Should().Be(2);
        afterTheRetry.FindBlocked(EmailGuardPartyType.Recipient, "c@example.org", time.GetUtcNow()).Should().NotBeNull();
    }

    [Fact]
    public async Task Metrics_CountFullLoadsAndCatchUps_AndGaugeTheEntriesHeld()
    {
        using TestMeterFactory meters = new();
        using MetricCollector<long> loads = new(meters, EmailGuardDiagnostics.MeterName, GuardStateCache.LoadsInstrument);
        using MetricCollector<long> entries = new(meters, EmailGuardDiagnostics.MeterName, GuardStateCache.ListEntriesInstrument);
        FakeTimeProvider time = new(s_start);
        InMemoryEmailGuardStateStore store = new(time);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time, meterFactory: meters);
        entries.RecordObservableInstruments();
        entries.GetMeasurementSnapshot().Should().BeEmpty("nothing is held before the first load");

        await store.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        await cache.StartRefresh();
        await store.UpsertListEntryAsync(Entry("b@example.org"), CancellationToken.None);
        await store.UpsertListEntryAsync(Entry("c@example.org", EmailGuardListKind.Allowlist), CancellationToken.None);
        await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        entries.RecordObservableInstruments();

        loads.GetMeasurementSnapshot().Select(m => (string?)m.Tags["emailguard.state.load"]).Should().Equal("full", "changes");
        entries.LastMeasurement!.Value.Should().Be(3);
    }

    [Fact]
    public async Task ACatchUpWithoutFlagChanges_ReadsNoFlags_AndKeepsTheFlagsInForce()
    {
        FakeTimeProvider time = new(s_start);
        InMemoryEmailGuardStateStore store = new(time);
        GuardStateCache cache = new(store, Options.Create(new SendGuardOptions()), time);
        await store.UpsertFlagAsync(
            new EmailGuardFlag { PartyType = EmailGuardPartyType.Tenant, PartyId = "acme", Reason = "bounces", CreatedAt = s_start, ExpiresAt = s_start.AddHours(1), Suspend = true },
            CancellationToken.None);
        await cache.StartRefresh();
        long loaded = cache.Version!.Value;

        await store.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        EmailGuardStateChanges? changes = await store.LoadChangesAsync(loaded, CancellationToken.None);
        GuardStateSnapshot snapshot = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);

        changes!.Flags.Should().BeNull("no flag changed since the load: the store reads none");
        snapshot.GetFlagEffect(EmailGuardPartyType.Tenant, "acme", time.GetUtcNow()).Suspension.Should().NotBeNull("the flags held stay in force");
        snapshot.HasFlags.Should().BeTrue();
        snapshot.FindBlocked(EmailGuardPartyType.Recipient, "a@example.org", time.GetUtcNow()).Should().NotBeNull();

        await store.RemoveFlagAsync(EmailGuardPartyType.Tenant, "acme", "bounces", CancellationToken.None);
        GuardStateSnapshot unflagged = await cache.LoadCurrentSnapshotAsync(CancellationToken.None);
        unflagged.GetFlagEffect(EmailGuardPartyType.Tenant, "acme", time.GetUtcNow()).Suspension.Should().BeNull("a removed flag comes with the flags whole");
        cache.FullLoads.Should().Be(1);
    }

    /// <summary>The in-memory store, whose full loads fail while <see cref="FailLoads"/>, as a list too large to load in time does.</summary>
    private sealed class LoadFailingStore(InMemoryEmailGuardStateStore inner) : ForwardingStateStore(inner)
    {
        private int _loadAttempts;

        public bool FailLoads { get; set; }

        public int LoadAttempts => Volatile.Read(ref _loadAttempts);

        public override ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _loadAttempts);
            return FailLoads ? ValueTask.FromException<EmailGuardStateData>(new TimeoutException("The load took too long (test).")) : Inner.LoadAsync(cancellationToken);
        }
    }

    /// <summary>The in-memory store, whose next change read can be held after it read, as a slow network would.</summary>
    private sealed class GatedChangesStore(InMemoryEmailGuardStateStore inner) : ForwardingStateStore(inner)
    {
        public TaskCompletionSource? HoldNext { get; set; }

        public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
        {
            EmailGuardStateChanges? changes = await Inner.LoadChangesAsync(sinceVersion, cancellationToken);
            if (HoldNext is { } gate)
            {
                HoldNext = null;
                Held.SetResult();
                await gate.Task;
            }

            return changes;
        }
    }
}
