using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// The behaviour the send guard relies on from every <see cref="IEmailGuardStateStore"/>, run once per store: the
/// version that tells instances to reload, list entries and flags replaced by their identity, expiry and retention,
/// the flag history, values of any shape, and writes from many callers at once. Split by concern into partials.
/// </summary>
/// <remarks>
/// Every test creates its store on a fresh <see cref="FakeTimeProvider"/>; a store shared between tests (Redis) must
/// give each test class instance a state of its own (its own key prefix), since the state store has no keys to scope.
/// </remarks>
public abstract partial class StateStoreContractTests
{
    /// <summary>The fake clock's start, at an odd millisecond.</summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Creates the store under test, empty, reading now from <paramref name="timeProvider"/>.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>The store.</returns>
    protected abstract IEmailGuardStateStore CreateStore(FakeTimeProvider timeProvider);

    /// <summary>
    /// Creates a second instance over the backend of <paramref name="store"/>, as another app instance would hold:
    /// its own connection, the same state. A store of one process returns <paramref name="store"/> itself.
    /// </summary>
    /// <param name="store">A store <see cref="CreateStore"/> created.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>The other instance.</returns>
    protected virtual IEmailGuardStateStore CreateOtherInstance(IEmailGuardStateStore store, FakeTimeProvider timeProvider) => store;

    [Fact]
    public async Task NewStore_VersionIsZero_AndLoadsNothing()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));

        long version = await store.GetVersionAsync(None);
        EmailGuardStateData state = await store.LoadAsync(None);

        version.Should().Be(0);
        state.Version.Should().Be(0);
        state.ListEntries.Should().BeEmpty();
        state.Flags.Should().BeEmpty();
        (await store.GetFlagEventsAsync(10, None)).Should().BeEmpty();
    }

    [Fact]
    public async Task EveryWrite_ChangesTheVersion_ToOneNeverSeenBefore()
    {
        // Instances reload when the version differs from the one they loaded: a write that left it unchanged, or a
        // version that came back to an earlier value, would leave them serving stale lists.
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);
        IEmailGuardStateStore other = CreateOtherInstance(store, time);
        List<long> versions = [await other.GetVersionAsync(None)];
        EmailGuardListEntry entry = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org");
        EmailGuardFlag flag = Flag(EmailGuardPartyType.Tenant, "acme", "spam", Start.AddHours(1));

        async Task Then(Func<Task> write)
        {
            await write();
            versions.Add(await other.GetVersionAsync(None));
        }

        await Then(async () => await store.UpsertListEntryAsync(entry, None));
        await Then(async () => await store.UpsertListEntryAsync(entry, None));
        await Then(async () => await store.UpsertFlagAsync(flag, None));
        await Then(async () => await store.UpsertFlagAsync(flag, None));
        await Then(async () => (await store.RemoveListEntryAsync(entry.Kind, entry.PartyType, entry.Value, None)).Should().BeTrue());
        await Then(async () => (await store.RemoveFlagAsync(flag.PartyType, flag.PartyId, flag.Reason, None)).Should().BeTrue());

        versions.Should().OnlyHaveUniqueItems("the same entry written again is still a write, and each remove removed something; another instance sees each change");
        (await other.LoadAsync(None)).Version.Should().Be(versions[^1], "LoadAsync returns the version of what it loaded");
    }

    [Fact]
    public async Task AppendingAFlagEvent_OrRemovingNothing_LeavesTheStateAsItWas()
    {
        // Neither changes a list or a flag. The version may move on a remove that found nothing (a store need not read
        // before it deletes), but the call reports that nothing was removed, and the state loads the same.
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Sender, "s@example.org"), None);
        long before = await store.GetVersionAsync(None);

        await store.AppendFlagEventAsync(Event(1), None);
        long afterEvent = await store.GetVersionAsync(None);
        bool removedEntry = await store.RemoveListEntryAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Sender, "s@example.org", None);
        bool removedFlag = await store.RemoveFlagAsync(EmailGuardPartyType.Sender, "s@example.org", "spam", None);

        afterEvent.Should().Be(before, "the flag history is not part of the loaded state");
        removedEntry.Should().BeFalse("the entry is on the blocklist, not the allowlist");
        removedFlag.Should().BeFalse();
        (await store.LoadAsync(None)).ListEntries.Should().ContainSingle().Which.Value.Should().Be("s@example.org");
    }

    [Fact]
    public async Task ManyCallersAtOnce_EveryWriteLands()
    {
        const int Callers = 16;
        const int WritesEach = 20;
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore first = CreateStore(time);
        IEmailGuardStateStore second = CreateOtherInstance(first, time);
        long before = await first.GetVersionAsync(None);

        // Half the callers write through each instance, as two app instances would.
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            IEmailGuardStateStore store = caller % 2 == 0 ? first : second;
            for (int i = 0; i < WritesEach; i++)
            {
                await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"c{caller}-{i}@example.org"), None);
                await store.UpsertFlagAsync(Flag(EmailGuardPartyType.User, $"u{caller}", $"reason-{i}", Start.AddHours(1)), None);
                await store.AppendFlagEventAsync(Event((caller * WritesEach) + i), None);
            }
        })));
        EmailGuardStateData state = await first.LoadAsync(None);
        IReadOnlyList<EmailGuardFlagEvent> events = await second.GetFlagEventsAsync(IEmailGuardStateStore.MaxFlagEvents, None);

        state.ListEntries.Should().HaveCount(Callers * WritesEach);
        state.ListEntries.Select(e => e.Value).Should().OnlyHaveUniqueItems();
        state.Flags.Should().HaveCount(Callers * WritesEach);
        events.Select(e => e.PartyId).Should().BeEquivalentTo(Enumerable.Range(0, Callers * WritesEach).Select(i => $"party-{i}"));
        state.Version.Should().NotBe(before);
        (await second.GetVersionAsync(None)).Should().Be(state.Version, "nothing was written after the load");
        (await second.LoadAsync(None)).Should().BeEquivalentTo(state, "both instances load the same state");
    }

    /// <summary>A list entry with every field set.</summary>
    /// <param name="kind">The list.</param>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="value">The value.</param>
    /// <param name="expiresAt">When it expires; never when null.</param>
    /// <param name="reason">Why it is listed.</param>
    /// <returns>The entry.</returns>
    protected static EmailGuardListEntry Entry(
        EmailGuardListKind kind, EmailGuardPartyType partyType, string value, DateTimeOffset? expiresAt = null, string reason = "hard bounce") => new()
        {
            Kind = kind,
            PartyType = partyType,
            Value = value,
            Reason = reason,
            CreatedBy = "contract",
            CreatedAt = Start,
            ExpiresAt = expiresAt,
        };

    /// <summary>A flag with every field set.</summary>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="partyId">The party.</param>
    /// <param name="reason">The reason.</param>
    /// <param name="expiresAt">When it expires.</param>
    /// <param name="suspend">Whether it suspends the party.</param>
    /// <returns>The flag.</returns>
    protected static EmailGuardFlag Flag(EmailGuardPartyType partyType, string partyId, string reason, DateTimeOffset expiresAt, bool suspend = false) => new()
    {
        PartyType = partyType,
        PartyId = partyId,
        Reason = reason,
        CreatedAt = Start,
        ExpiresAt = expiresAt,
        Suspend = suspend,
        LimitFactor = 0.25,
        CreatedBy = "contract",
        Metadata = new Dictionary<string, string> { ["ratio"] = "0.12", ["window"] = "1h" },
    };

    /// <summary>The flag event number <paramref name="n"/>, told apart by its party id <c>party-n</c>.</summary>
    /// <param name="n">The number.</param>
    /// <returns>The event.</returns>
    protected static EmailGuardFlagEvent Event(int n) => new()
    {
        Kind = (EmailGuardFlagEventKind)(n % 3),
        PartyType = EmailGuardPartyType.Sender,
        PartyId = $"party-{n}",
        Reason = "spam",
        Comment = $"event {n}",
        CreatedAt = Start.AddSeconds(n),
        ExpiresAt = Start.AddSeconds(n).AddHours(1),
        CreatedBy = "contract",
        Metadata = new Dictionary<string, string> { ["n"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture) },
    };
}
