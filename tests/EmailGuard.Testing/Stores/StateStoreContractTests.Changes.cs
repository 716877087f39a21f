using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// <see cref="IEmailGuardStateStore.LoadChangesAsync"/>: what an instance needs to bring its lists up to date without
/// loading them whole. A store that reports no changes (the default member) must answer <see langword="null"/>.
/// </summary>
public abstract partial class StateStoreContractTests
{
    /// <summary>Whether the store reports changes; <see langword="false"/> for one that keeps the default member.</summary>
    protected virtual bool ReportsChanges => true;

    /// <summary>
    /// Whether the store records changes of tenant limits (<see cref="IEmailGuardStateStore.RecordTenantLimitsChangeAsync"/>);
    /// by default, whether it reports changes.
    /// </summary>
    protected virtual bool RecordsTenantLimitsChanges => ReportsChanges;

    [Fact]
    public async Task LoadChanges_SinceALoad_HasTheEntriesWrittenAsStoredNow_TheRemovedOnes_AndEveryFlag()
    {
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);
        IEmailGuardStateStore other = CreateOtherInstance(store, time);
        EmailGuardListEntry kept = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "kept@example.org");
        EmailGuardListEntry replaced = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "replaced@example.org");
        EmailGuardListEntry removed = Entry(EmailGuardListKind.Allowlist, EmailGuardPartyType.Sender, "removed@example.org");
        await store.UpsertListEntryAsync(kept, None);
        await store.UpsertListEntryAsync(replaced, None);
        await store.UpsertListEntryAsync(removed, None);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "before", "spam", Start.AddHours(1)), None);
        long loaded = (await other.LoadAsync(None)).Version;

        EmailGuardListEntry replacement = Entry(replaced.Kind, replaced.PartyType, replaced.Value, Start.AddDays(1), "complaint");
        EmailGuardListEntry added = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.CategoryRecipient, "news:added@example.org");
        EmailGuardListEntry transient = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "transient@example.org");
        await store.UpsertListEntryAsync(replacement, None);
        await store.UpsertListEntryAsync(added, None);
        await store.UpsertListEntryAsync(added, None);
        await store.UpsertListEntryAsync(transient, None);
        (await store.RemoveListEntryAsync(transient.Kind, transient.PartyType, transient.Value, None)).Should().BeTrue();
        (await store.RemoveListEntryAsync(removed.Kind, removed.PartyType, removed.Value, None)).Should().BeTrue();
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.User, "after", "spam", Start.AddHours(1)), None);
        EmailGuardStateChanges? changes = await other.LoadChangesAsync(loaded, None);

        if (!ReportsChanges)
        {
            changes.Should().BeNull("a store that keeps the default member reports no changes, and the caller loads whole");
            return;
        }

        changes.Should().NotBeNull();
        changes!.SinceVersion.Should().Be(loaded);
        changes.Version.Should().Be(await store.GetVersionAsync(None));
        changes.ListEntries.Should().BeEquivalentTo([replacement, added], "each entry written since appears once, as stored now; the unchanged one not at all");
        changes.RemovedListEntries.Should().BeEquivalentTo(
            [new EmailGuardListEntryKey(transient.Kind, transient.PartyType, transient.Value), new EmailGuardListEntryKey(removed.Kind, removed.PartyType, removed.Value)],
            "an entry written and removed since appears once, as removed");
        changes.Flags.Should().NotBeNull("a flag was written since the load");
        changes.Flags!.Select(f => f.PartyId).Should().BeEquivalentTo(["before", "after"], "flags come whole");
    }

    [Fact]
    public async Task LoadChanges_AtTheCurrentVersion_IsEmpty_AndAheadOfTheStore_IsNull()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org"), None);
        long version = await store.GetVersionAsync(None);

        EmailGuardStateChanges? current = await store.LoadChangesAsync(version, None);
        EmailGuardStateChanges? ahead = await store.LoadChangesAsync(version + 5, None);

        ahead.Should().BeNull("a version the store never reached means its data was lost: only a full load is right");
        if (!ReportsChanges)
        {
            current.Should().BeNull();
            return;
        }

        current.Should().NotBeNull();
        current!.Version.Should().Be(version);
        current.ListEntries.Should().BeEmpty();
        current.RemovedListEntries.Should().BeEmpty();
    }

    [Fact]
    public async Task LoadChanges_AfterListWritesOnly_GivesNoFlagsOrAllOfThem()
    {
        // A catch-up follows each suppression: reading every flag each time is what this lets a store skip. When it does
        // give flags, they are all of them.
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "acme", "spam", Start.AddHours(1)), None);
        long version = await store.GetVersionAsync(None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org"), None);
        await store.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "b@example.org", None);

        EmailGuardStateChanges? changes = await store.LoadChangesAsync(version, None);

        if (!ReportsChanges)
        {
            changes.Should().BeNull();
            return;
        }

        changes!.ListEntries.Should().ContainSingle();
        if (changes.Flags is { } flags)
        {
            flags.Select(f => f.PartyId).Should().Equal("acme");
        }
    }

    [Fact]
    public async Task RecordTenantLimitsChange_MovesTheVersion_AndTheNextChangesNameTheTenantOnce_OrEveryTenant()
    {
        // IEmailGuardTenantLimits rides this: every instance drops the cached limits of the tenants the changes name.
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);
        IEmailGuardStateStore other = CreateOtherInstance(store, time);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org"), None);
        long before = await other.GetVersionAsync(None);

        bool recorded = await store.RecordTenantLimitsChangeAsync("acme", None);
        await store.RecordTenantLimitsChangeAsync("acme", None);
        await store.RecordTenantLimitsChangeAsync("t:odd:id", None);
        long named = await other.GetVersionAsync(None);
        await store.RecordTenantLimitsChangeAsync(null, None);
        long all = await other.GetVersionAsync(None);

        recorded.Should().Be(RecordsTenantLimitsChanges);
        if (!recorded)
        {
            // The default member: nothing recorded, so nothing for other instances to reload.
            all.Should().Be(before);
            return;
        }

        named.Should().NotBe(before);
        all.Should().NotBe(named);
        (await other.LoadAsync(None)).ListEntries.Should().ContainSingle("a change of tenant limits stores nothing but its record");
        EmailGuardStateChanges? tenants = await other.LoadChangesAsync(before, None);
        EmailGuardStateChanges? everyTenant = await other.LoadChangesAsync(named, None);
        if (!ReportsChanges)
        {
            tenants.Should().BeNull();
            return;
        }

        tenants!.Version.Should().Be(all);
        tenants.TenantLimitsChanged.Should().BeEquivalentTo(["acme", "t:odd:id"], "each tenant once, by its id as given");
        tenants.AllTenantLimitsChanged.Should().BeTrue("the changes since that version include the one of every tenant");
        tenants.ListEntries.Should().BeEmpty();
        tenants.RemovedListEntries.Should().BeEmpty();
        everyTenant!.AllTenantLimitsChanged.Should().BeTrue();
        everyTenant.TenantLimitsChanged.Should().BeEmpty();
    }

    [Fact]
    public async Task LoadChanges_AppliedAfterEachBatchOfRandomWrites_AlwaysMatchesAFullLoad()
    {
        // The property an instance relies on: a full load, then changes applied one catch-up after another, gives the
        // lists a full load gives at the same moment, whatever the writes (adds, replacements, removals, flags, two
        // instances, the same values again and again).
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);
        IEmailGuardStateStore other = CreateOtherInstance(store, time);
        Random random = new(20261204);
        EmailGuardStateData first = await other.LoadAsync(None);
        Dictionary<EmailGuardListEntryKey, EmailGuardListEntry> view = first.ListEntries.ToDictionary(Key);
        IReadOnlyList<EmailGuardFlag> flags = first.Flags;
        long version = first.Version;

        for (int round = 0; round < 12; round++)
        {
            int writes = random.Next(0, 12);
            for (int i = 0; i < writes; i++)
            {
                IEmailGuardStateStore writer = random.Next(2) == 0 ? store : other;
                EmailGuardListKind kind = random.Next(4) == 0 ? EmailGuardListKind.Allowlist : EmailGuardListKind.Blocklist;
                string value = $"r{random.Next(8)}@example.org";
                string party = $"t{random.Next(3)}";
                string reason = random.Next(2) == 0 ? "spam" : "Bounce:Rate";
                switch (random.Next(6))
                {
                    case 0:
                        await writer.RemoveListEntryAsync(kind, EmailGuardPartyType.Recipient, value, None);
                        break;
                    case 1:
                        // Some flags expire a few rounds on: a catch-up must drop them as a full load does.
                        DateTimeOffset expires = time.GetUtcNow().AddMinutes(random.Next(2) == 0 ? 60 * 24 : 5 * random.Next(1, 4));
                        await writer.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, party, reason, expires), None);
                        break;
                    case 2:
                        await writer.RemoveFlagAsync(EmailGuardPartyType.Tenant, party, reason, None);
                        break;
                    default:
                        await writer.UpsertListEntryAsync(Entry(kind, EmailGuardPartyType.Recipient, value, reason: $"reason {round}.{i}"), None);
                        break;
                }
            }

            EmailGuardStateChanges? changes = await other.LoadChangesAsync(version, None);
            if (!ReportsChanges)
            {
                changes.Should().BeNull();
                return;
            }

            changes.Should().NotBeNull($"round {round}: the store keeps far more changes than this test writes");
            foreach (EmailGuardListEntryKey removed in changes!.RemovedListEntries)
            {
                view.Remove(removed);
            }

            foreach (EmailGuardListEntry entry in changes.ListEntries)
            {
                view[Key(entry)] = entry;
            }

            version = changes.Version;
            EmailGuardStateData full = await store.LoadAsync(None);
            full.Version.Should().Be(version, $"round {round}: nothing was written between the two reads");
            view.Values.Should().BeEquivalentTo(full.ListEntries, $"round {round}");
            flags = changes.Flags ?? flags;
            flags.Where(f => f.IsActive(time.GetUtcNow())).Should().BeEquivalentTo(full.Flags, $"round {round}: flags given whole, or none when none changed");
            time.Advance(TimeSpan.FromMinutes(5));
        }
    }

    private static EmailGuardListEntryKey Key(EmailGuardListEntry entry) => new(entry.Kind, entry.PartyType, entry.Value);
}
