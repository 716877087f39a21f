using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>List entries: their identity, removal, expiry and retention, and values of any shape.</summary>
public abstract partial class StateStoreContractTests
{
    /// <summary>Values a list may hold once normalized, and what makes each one awkward for a store.</summary>
    public static TheoryData<string, string> OddValues() => new()
    {
        { "jos\u00e9@ex\u00e4mple.org", "non-ASCII" },
        { "\u7528\u6237@\u4f8b\u5b50.\u516c\u53f8", "CJK" },
        { "\ud83d\ude00@example.org", "an emoji (a surrogate pair)" },
        { "a:b:c", "colons, a key separator" },
        { "1:0:forged", "a value shaped like a kind and party prefix" },
        { "with space", "a space" },
        { "{hashtag}x", "braces, a Redis hash tag" },
        { "quote\"back\\slash", "JSON escapes" },
        { "*?[glob]", "glob characters" },
        { new string('x', 2_000) + "@example.org", "long" },
    };

    [Fact]
    public async Task UpsertListEntry_SameKindPartyAndValue_ReplacesIt_AndEachPartOfTheIdentityKeepsItsOwn()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        const string Value = "victim@example.org";

        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, Value, reason: "first"), None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, Value, Start.AddDays(1), "second"), None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Allowlist, EmailGuardPartyType.Recipient, Value), None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Sender, Value), None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "Victim@example.org"), None);
        EmailGuardStateData state = await store.LoadAsync(None);

        state.ListEntries.Should().HaveCount(4, "kind, party type and value (compared ordinally) make an entry's identity");
        state.ListEntries.Should().ContainSingle(e => e.Kind == EmailGuardListKind.Blocklist && e.PartyType == EmailGuardPartyType.Recipient && e.Value == Value)
            .Which.Should().BeEquivalentTo(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, Value, Start.AddDays(1), "second"), "the second write replaced the first");
    }

    [Fact]
    public async Task RemoveListEntry_RemovesOnlyThatEntry_AndSaysWhetherItDid()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org"), None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Allowlist, EmailGuardPartyType.Recipient, "a@example.org"), None);

        bool wrongCase = await store.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "A@example.org", None);
        bool wrongParty = await store.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Sender, "a@example.org", None);
        bool first = await store.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org", None);
        bool again = await store.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org", None);
        EmailGuardStateData state = await store.LoadAsync(None);

        wrongCase.Should().BeFalse("values are compared ordinally");
        wrongParty.Should().BeFalse();
        first.Should().BeTrue();
        again.Should().BeFalse();
        state.ListEntries.Should().ContainSingle().Which.Kind.Should().Be(EmailGuardListKind.Allowlist);
    }

    [Fact]
    public async Task ExpiredListEntry_IsKeptForTheRetention_ThenDropped_AndAPermanentOneStays()
    {
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);
        DateTimeOffset expiresAt = Start.AddHours(1);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "temporary@example.org", expiresAt), None);
        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "permanent@example.org"), None);

        time.SetUtcNow(expiresAt + IEmailGuardStateStore.ExpiredEntryRetention - TimeSpan.FromMilliseconds(1));
        EmailGuardStateData retained = await store.LoadAsync(None);
        time.SetUtcNow(expiresAt + IEmailGuardStateStore.ExpiredEntryRetention);
        EmailGuardStateData dropped = await store.LoadAsync(None);
        time.Advance(TimeSpan.FromDays(365));
        EmailGuardStateData yearLater = await store.LoadAsync(None);

        retained.ListEntries.Select(e => e.Value).Should().BeEquivalentTo(["temporary@example.org", "permanent@example.org"], "an expired entry is kept for listings that include expired entries");
        dropped.ListEntries.Select(e => e.Value).Should().Equal(["permanent@example.org"], "once the retention has passed, the entry is gone, so expired entries cannot pile up");
        yearLater.ListEntries.Select(e => e.Value).Should().Equal(["permanent@example.org"]);
    }

    [Fact]
    public async Task ListEntry_WrittenAlreadyPastItsRetention_IsNotLoaded()
    {
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);

        await store.UpsertListEntryAsync(Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "old@example.org", Start - IEmailGuardStateStore.ExpiredEntryRetention - TimeSpan.FromDays(1)), None);
        EmailGuardStateData state = await store.LoadAsync(None);

        state.ListEntries.Should().BeEmpty();
    }

    [Theory]
    [MemberData(nameof(OddValues))]
    public async Task ListEntry_WithAnOddValue_RoundTrips_AndIsRemovedByIt(string value, string why)
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        EmailGuardListEntry entry = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, value, Start.AddDays(1), reason: "r\u00e9ason: " + why);
        EmailGuardListEntry neighbour = Entry(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, value + "x");

        await store.UpsertListEntryAsync(entry, None);
        await store.UpsertListEntryAsync(neighbour, None);
        EmailGuardStateData loaded = await store.LoadAsync(None);
        bool removed = await store.RemoveListEntryAsync(entry.Kind, entry.PartyType, value, None);
        EmailGuardStateData after = await store.LoadAsync(None);

        loaded.ListEntries.Should().BeEquivalentTo([entry, neighbour], why);
        removed.Should().BeTrue(why);
        after.ListEntries.Should().BeEquivalentTo([neighbour], why);
    }
}
