using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>Flags: their identity (the reason without regard to case), removal, expiry, and ids of any shape.</summary>
public abstract partial class StateStoreContractTests
{
    [Fact]
    public async Task UpsertFlag_SamePartyAndReasonInAnyCase_ReplacesIt_AndEveryFieldRoundTrips()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        EmailGuardFlag replacement = Flag(EmailGuardPartyType.Tenant, "acme", "HIGH_BOUNCE_RATE", Start.AddDays(2), suspend: true);

        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "acme", "high_bounce_rate", Start.AddHours(1)), None);
        await store.UpsertFlagAsync(replacement, None);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "acme", "complaints", Start.AddHours(1)), None);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.User, "acme", "high_bounce_rate", Start.AddHours(1)), None);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "acme2", "high_bounce_rate", Start.AddHours(1)), None);
        EmailGuardStateData state = await store.LoadAsync(None);

        state.Flags.Should().HaveCount(4, "party type, party id and reason (without regard to case) make a flag's identity");
        state.Flags.Should().ContainSingle(f => f.PartyType == EmailGuardPartyType.Tenant && f.PartyId == "acme" && f.Reason.Equals("high_bounce_rate", StringComparison.OrdinalIgnoreCase))
            .Which.Should().BeEquivalentTo(replacement, "the second write replaced the first, with its own spelling of the reason");
    }

    [Fact]
    public async Task ReplaceFlag_SaysWhatTheWriteReplaced_OrWritesNothingWhenTheStoreCannotSay()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        EmailGuardFlag first = Flag(EmailGuardPartyType.Tenant, "acme", "manual", Start.AddHours(1));
        EmailGuardFlag second = Flag(EmailGuardPartyType.Tenant, "acme", "MANUAL", Start.AddHours(2), suspend: true);
        long before = await store.GetVersionAsync(None);

        EmailGuardFlagReplacement? onNone = await store.ReplaceFlagAsync(first, None);
        if (onNone is null)
        {
            // A store that cannot say (the interface's default) wrote nothing: the flag API reads first, then upserts.
            (await store.GetVersionAsync(None)).Should().Be(before);
            (await store.LoadAsync(None)).Flags.Should().BeEmpty();
            return;
        }

        EmailGuardFlagReplacement? onFirst = await store.ReplaceFlagAsync(second, None);
        await store.RemoveFlagAsync(EmailGuardPartyType.Tenant, "acme", "manual", None);
        EmailGuardFlagReplacement? afterRemoval = await store.ReplaceFlagAsync(first, None);
        EmailGuardFlagReplacement? otherParty = await store.ReplaceFlagAsync(Flag(EmailGuardPartyType.User, "acme", "manual", Start.AddHours(1)), None);
        EmailGuardStateData state = await store.LoadAsync(None);

        onNone.Replaced.Should().BeNull("nothing was stored under the party and reason");
        onFirst!.Replaced.Should().BeEquivalentTo(first, "the reason is compared without regard to case, and the replaced flag comes back whole");
        afterRemoval!.Replaced.Should().BeNull("the flag was removed in between");
        otherParty!.Replaced.Should().BeNull("a user and a tenant of the same id are different parties");
        state.Flags.Should().HaveCount(2).And.ContainEquivalentOf(first);
        (await store.GetVersionAsync(None)).Should().BeGreaterThan(before);
    }

    [Fact]
    public async Task RemoveFlag_ReasonInAnyCase_RemovesOnlyThatFlag_AndSaysWhetherItDid()
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Sender, "s@example.org", "Spam", Start.AddHours(1)), None);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Sender, "s@example.org", "complaints", Start.AddHours(1)), None);

        bool otherParty = await store.RemoveFlagAsync(EmailGuardPartyType.Recipient, "s@example.org", "spam", None);
        bool first = await store.RemoveFlagAsync(EmailGuardPartyType.Sender, "s@example.org", "sPAM", None);
        bool again = await store.RemoveFlagAsync(EmailGuardPartyType.Sender, "s@example.org", "Spam", None);
        EmailGuardStateData state = await store.LoadAsync(None);

        otherParty.Should().BeFalse();
        first.Should().BeTrue();
        again.Should().BeFalse();
        state.Flags.Should().ContainSingle().Which.Reason.Should().Be("complaints");
    }

    [Fact]
    public async Task Flag_IsLoadedUntilItExpires_ThenDropped()
    {
        FakeTimeProvider time = new(Start);
        IEmailGuardStateStore store = CreateStore(time);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "short", "spam", Start.AddHours(1)), None);
        await store.UpsertFlagAsync(Flag(EmailGuardPartyType.Tenant, "long", "spam", Start.AddDays(30)), None);

        time.SetUtcNow(Start.AddHours(1) - TimeSpan.FromMilliseconds(1));
        EmailGuardStateData before = await store.LoadAsync(None);
        time.SetUtcNow(Start.AddHours(1));
        EmailGuardStateData atExpiry = await store.LoadAsync(None);

        before.Flags.Select(f => f.PartyId).Should().BeEquivalentTo(["short", "long"]);
        atExpiry.Flags.Select(f => f.PartyId).Should().Equal(["long"], "a flag is active only before its expiry");
    }

    [Fact]
    public async Task Flags_WhosePartyIdsAndReasonsShareColons_AreDistinct()
    {
        // An IPv6-style id or a reason with a colon must not land on the same identity as another party's flag: the
        // guard would then replace, or an operator remove, the wrong one.
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        EmailGuardFlag idWithColon = Flag(EmailGuardPartyType.Tenant, "b:c", "a", Start.AddHours(1));
        EmailGuardFlag reasonWithColon = Flag(EmailGuardPartyType.Tenant, "c", "a:b", Start.AddHours(1));
        EmailGuardFlag ipv6 = Flag(EmailGuardPartyType.Tenant, "2001:db8::1", "spam", Start.AddHours(1));
        EmailGuardFlag reasonShapedLikeIpv6 = Flag(EmailGuardPartyType.Tenant, "db8::1", "spam:2001", Start.AddHours(1));

        await store.UpsertFlagAsync(idWithColon, None);
        await store.UpsertFlagAsync(reasonWithColon, None);
        await store.UpsertFlagAsync(ipv6, None);
        await store.UpsertFlagAsync(reasonShapedLikeIpv6, None);
        EmailGuardStateData loaded = await store.LoadAsync(None);
        bool removed = await store.RemoveFlagAsync(EmailGuardPartyType.Tenant, "c", "a:b", None);
        EmailGuardStateData after = await store.LoadAsync(None);

        loaded.Flags.Should().BeEquivalentTo([idWithColon, reasonWithColon, ipv6, reasonShapedLikeIpv6]);
        removed.Should().BeTrue();
        after.Flags.Should().BeEquivalentTo([idWithColon, ipv6, reasonShapedLikeIpv6]);
    }

    [Theory]
    [MemberData(nameof(OddValues))]
    public async Task Flag_WithAnOddPartyId_RoundTrips_AndIsRemovedByIt(string partyId, string why)
    {
        IEmailGuardStateStore store = CreateStore(new FakeTimeProvider(Start));
        EmailGuardFlag flag = Flag(EmailGuardPartyType.User, partyId, "R\u00e9ason " + why, Start.AddHours(1));
        EmailGuardFlag neighbour = Flag(EmailGuardPartyType.User, partyId + "x", "R\u00e9ason " + why, Start.AddHours(1));

        await store.UpsertFlagAsync(flag, None);
        await store.UpsertFlagAsync(neighbour, None);
        EmailGuardStateData loaded = await store.LoadAsync(None);
        bool removed = await store.RemoveFlagAsync(EmailGuardPartyType.User, partyId, "r\u00c9ASON " + why.ToUpperInvariant(), None);
        EmailGuardStateData after = await store.LoadAsync(None);

        loaded.Flags.Should().BeEquivalentTo([flag, neighbour], why);
        removed.Should().BeTrue(why);
        after.Flags.Should().BeEquivalentTo([neighbour], why);
    }
}
