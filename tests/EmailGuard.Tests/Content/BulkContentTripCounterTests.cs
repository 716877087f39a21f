using System.Globalization;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Content;

/// <summary>
/// The bulk_content trip counter: a fixed window of <see cref="BulkContentFlagOptions.Period"/> with
/// <see cref="BulkContentFlagOptions.Trips"/> as its limit, whose trip that reaches the limit flags. On a full in-memory
/// store a new trip counter is counted in the overflow sketch of its shape, which a rogue can fill through any rule of
/// that window (here a user rule of 10 an hour, as the default period is an hour): the counter then read as over the
/// limit from the rogue's first trip, the store denied it, and the rogue was never flagged however often it tripped.
/// A denied count is now a flag unless the party has a bulk_content flag event in the period already.
/// </summary>
public sealed class BulkContentTripCounterTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    private static readonly string[] s_floodRecipients = [.. Enumerable.Range(0, 10).Select(r => string.Create(CultureInfo.InvariantCulture, $"r{r}@flood.example"))];

    [Fact]
    public async Task FullStore_RogueFloodsItsTripCountersShape_StillFlaggedBulkContent_Once()
    {
        // Arrange: a text to 5 recipients an hour, flagged at 3 trips an hour; a store of 2 counters, taken at once.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 2, SweepInterval = TimeSpan.FromDays(1) }, time);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero };
        options.Content.Add(RateLimitRule.PerHour(5));
        options.User.Add(RateLimitRule.PerHour(10));
        options.BulkContent.Trips = 3;
        SendGuardHarness h = new(time, store, new InMemoryEmailGuardStateStore(time), options, null);
        (await h.Guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], UserId = "first" })).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], UserId = "second" })).IsAllowed.Should().BeTrue();

        // The rogue's flood of new users, counted in the hourly fixed windows' sketch until every cell is full.
        int deniedInARow = 0;
        for (int i = 0; deniedInARow < 200 && i < 100_000; i++)
        {
            OutboundEmail flood = new() { To = s_floodRecipients, UserId = string.Create(CultureInfo.InvariantCulture, $"flood-{i}") };
            deniedInARow = (await h.Guard.CheckAsync(flood)).IsAllowed ? 0 : deniedInARow + 1;
        }

        deniedInARow.Should().Be(200, "the flood filled the sketch");

        // Act: the rogue's messages of one text to 6 recipients each: over the limit by itself, its own trip every time.
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 5; i++)
        {
            decisions.Add(await h.Guard.CheckAsync(Campaign(i)));
        }

        // Assert: flagged, once, however the sketch read its trips.
        decisions.Should().OnlyContain(d => d.Dimension == EmailGuardDimension.Content);
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Select(f => f.Reason).Should().Equal(EmailGuardFlagReasons.BulkContent);
        (await h.Flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyType = EmailGuardPartyType.Tenant, PartyId = "rogue" }))
            .Should().ContainSingle("one flag for the period, not one a trip");
    }

    [Fact]
    public async Task ExactStore_FlaggedAtTrips_ClearedByTheOperator_LaterTripsInThePeriodFlagNoMore()
    {
        // Arrange: the rogue trips 3 times and is flagged; the operator clears the flag.
        FakeTimeProvider time = new(Start);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero };
        options.Content.Add(RateLimitRule.PerHour(5));
        options.BulkContent.Trips = 3;
        SendGuardHarness h = new(time, new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time), new InMemoryEmailGuardStateStore(time), options, null);
        for (int i = 0; i < 3; i++)
        {
            await h.Guard.CheckAsync(Campaign(i));
        }

        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Should().ContainSingle();
        await h.Flags.ClearAsync(EmailGuardPartyType.Tenant, "rogue", EmailGuardFlagReasons.BulkContent);

        // Act: two more trips in the same hour, then one in the next.
        await h.Guard.CheckAsync(Campaign(3));
        await h.Guard.CheckAsync(Campaign(4));
        IReadOnlyList<EmailGuardFlag> afterClear = await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue");
        time.Advance(TimeSpan.FromHours(1));
        for (int i = 5; i < 8; i++)
        {
            await h.Guard.CheckAsync(Campaign(i));
        }

        // Assert: the period's flag was cleared and stays so; the next period counts afresh.
        afterClear.Should().BeEmpty("the operator cleared the period's flag: the trips past the limit do not set it again");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Select(f => f.Reason).Should().Equal(EmailGuardFlagReasons.BulkContent);
    }

    /// <summary>One text to 6 recipients, over the content rule's 5 by itself.</summary>
    private static OutboundEmail Campaign(int round) => new()
    {
        To = [.. Enumerable.Range(0, 6).Select(r => string.Create(CultureInfo.InvariantCulture, $"buyer{round}-{r}@suppliers.example"))],
        TenantId = "rogue",
        Content = new EmailContent
        {
            Subject = "Invoice overdue",
            TextBody = "Your invoice is overdue. Confirm your account details at the link below to avoid suspension of deliveries.",
        },
    };
}
