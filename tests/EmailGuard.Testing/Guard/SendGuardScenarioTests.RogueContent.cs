using System.Globalization;
using EmailGuard;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// A rogue tenant spends another tenant's text on every store: the text-wide content cap denies the innocent tenant's
/// copies, but only a party whose own copies alone exceed the rule trips bulk_content. The own copies are counted in the
/// same atomic acquire as the content rules, so every store must give the same flags.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    private const string RogueOrder = "Please find attached our purchase order for the spring collection. We ask for delivery to the central "
        + "warehouse in Hamburg within three weeks, packed on pallets as agreed in the framework contract. Invoices go to our accounts "
        + "payable team, quoting the order number on every page, and questions about the delivery";

    private static OutboundEmail TextOf(string tenant, string user, int i, string ending) => new()
    {
        To = [string.Create(CultureInfo.InvariantCulture, $"r{i}@{tenant}-partners.example")],
        TenantId = tenant,
        UserId = user,
        Content = new EmailContent { Subject = "Purchase order from Northwind", TextBody = $"{RogueOrder} {ending} go to Anna." },
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RogueContent_AnotherTenantFillsTheText_VictimDeniedButNotFlagged_RogueFlaggedAtTrips(bool rewrite)
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1_000));
            o.Content.Add(RateLimitRule.PerHour(10));
            o.NearDuplicate.Enabled = rewrite;
            o.BulkContent.Trips = 3;
        });

        // The rogue sends the victim's text (or, with the bands on, a one-word rewrite of it) to the whole 10, spread
        // over 3 users; the victim's 3 copies are then denied by the full counter.
        string rogueEnding = rewrite ? "timetable" : "schedule";
        for (int i = 0; i < 10; i++)
        {
            (await h.Guard.CheckAsync(TextOf("rogue", $"rogue-user{i % 3}", i, rogueEnding))).IsAllowed.Should().BeTrue();
        }

        List<EmailSendDecision> victim = [];
        for (int i = 0; i < 3; i++)
        {
            victim.Add(await h.Guard.CheckAsync(TextOf("victim", "victim-user", i, "schedule")));
        }

        victim.Should().AllSatisfy(d => d.Dimension.Should().Be(EmailGuardDimension.Content));
        if (rewrite)
        {
            victim.Should().AllSatisfy(d => d.Partition.Should().StartWith("nd", "a band the rewrite shares denied, not the fingerprint"));
        }

        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "victim")).Should().BeEmpty("it has no copy of its own: the one denied is 1 of 10");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "victim-user")).Should().BeEmpty();

        // The rogue keeps sending from one of its users: its tenant's own 10 copies and this one exceed 10, its user's 4 do not.
        List<int> rogueFlags = [];
        for (int i = 0; i < 3; i++)
        {
            (await h.Guard.CheckAsync(TextOf("rogue", "rogue-user0", 100 + i, rogueEnding))).Dimension.Should().Be(EmailGuardDimension.Content);
            rogueFlags.Add((await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Count);
        }

        rogueFlags.Should().Equal([0, 0, 1], "flagged at the third trip exactly");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "rogue-user0")).Should().BeEmpty();
    }

    [Fact]
    public async Task RogueContent_UnderATokenBucketContentRule_VictimWithinTheRateIsNotFlagged_RogueOverItsOwnBurstIs()
    {
        // A token bucket refills: 6 copies an hour, one every 10 minutes, fit a bucket of 5 refilled at 10 an hour (one
        // token every 6 minutes) with room to spare. A count of the last hour's copies (6 > 5) says otherwise.
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1_000));
            o.Content.Add(RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 5));
            o.BulkContent.Trips = 2;
        });

        for (int i = 0; i < 6; i++)
        {
            (await h.Guard.CheckAsync(TextOf("victim", "victim-user", i, "schedule"))).IsAllowed.Should().BeTrue("alone, the victim never holds more than one token");
            await h.AdvanceAsync(TimeSpan.FromMinutes(i < 5 ? 10 : 5));
        }

        // 55 minutes in, the victim's last copy holds one token of the text's bucket: the rogue takes the other 4.
        for (int i = 0; i < 4; i++)
        {
            (await h.Guard.CheckAsync(TextOf("rogue", "rogue-user", i, "schedule"))).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < 2; i++)
        {
            (await h.Guard.CheckAsync(TextOf("victim", "victim-user", 10 + i, "schedule"))).Dimension.Should().Be(EmailGuardDimension.Content);
        }

        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "victim")).Should().BeEmpty("its own bucket holds 1 token of 5: this copy would have fit");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "victim-user")).Should().BeEmpty();

        // The rogue's own text, alone: a burst of 5 admitted, then its own bucket is what denies, a trip each time.
        for (int i = 0; i < 7; i++)
        {
            EmailSendDecision decision = await h.Guard.CheckAsync(TextOf("rogue", "rogue-user", 20 + i, "timetable"));
            decision.IsAllowed.Should().Be(i < 5);
        }

        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Should().ContainSingle();
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "rogue-user")).Should().ContainSingle();
    }

    [Fact]
    public async Task RogueContent_RefundedCopiesAreNoOwnCopies_TheVictimsNextDenialIsNoTrip()
    {
        // The provider refused the victim's 10 copies and the app refunded each: they were never sent, so they are not
        // its own copies any more either. A refund that gave back the text's counter but not the party's own would leave
        // the victim at 10 of 10 on its own, and the rogue's filling the text would then get it flagged.
        SendGuardHarness h = Create(o =>
        {
            o.Content.Add(RateLimitRule.PerHour(10));
            o.BulkContent.Trips = 1;
        });

        for (int i = 0; i < 10; i++)
        {
            EmailSendDecision sent = await h.Guard.CheckAsync(TextOf("victim", "victim-user", i, "schedule"));
            sent.IsAllowed.Should().BeTrue();
            (await h.Guard.RefundAsync(sent)).Should().BeTrue();
        }

        for (int i = 0; i < 10; i++)
        {
            (await h.Guard.CheckAsync(TextOf("rogue", "rogue-user", i, "schedule"))).IsAllowed.Should().BeTrue("the refunds gave the text's 10 back");
        }

        (await h.Guard.CheckAsync(TextOf("victim", "victim-user", 20, "schedule"))).Dimension.Should().Be(EmailGuardDimension.Content);
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "victim")).Should().BeEmpty("its copies were all refunded");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "victim-user")).Should().BeEmpty();
    }

    [Fact]
    public async Task RogueContent_MessagesToSeveralRecipients_ATripExactlyWhenOwnCopiesAndThisMessagesRecipientsExceedTheLimit()
    {
        // A message costs one copy per recipient. The boundary: a party at 7 of 10 on its own whose message to 3 is denied
        // (another party filled the text) would have fit exactly alone, so it is no trip; its message to 4 would not have.
        SendGuardHarness h = Create(o =>
        {
            o.Content.Add(RateLimitRule.PerHour(10));
            o.BulkContent.Trips = 1;
        });

        static OutboundEmail ToMany(string tenant, int recipients, int batch)
            => new()
            {
                To = [.. Enumerable.Range(0, recipients).Select(r => string.Create(CultureInfo.InvariantCulture, $"b{batch}r{r}@{tenant}-partners.example"))],
                TenantId = tenant,
                UserId = tenant + "-user",
                Content = TextOf(tenant, tenant + "-user", batch, "schedule").Content,
            };

        (await h.Guard.CheckAsync(ToMany("a", 7, 0))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(ToMany("b", 3, 1))).IsAllowed.Should().BeTrue();

        (await h.Guard.CheckAsync(ToMany("a", 3, 2))).Dimension.Should().Be(EmailGuardDimension.Content);
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "a")).Should().BeEmpty("7 + 3 is the limit, not over it");

        (await h.Guard.CheckAsync(ToMany("a", 4, 3))).Dimension.Should().Be(EmailGuardDimension.Content);
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "a")).Should().ContainSingle("7 + 4 is over the limit: alone it would have been denied");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "b")).Should().BeEmpty();
    }
}
