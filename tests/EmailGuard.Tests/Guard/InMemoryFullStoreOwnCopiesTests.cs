using System.Globalization;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A party's own copies of a text on a full in-memory store. New keys then go to an overflow sketch per rule shape,
/// which only over-counts; the own copies share their shape with the content rule and with every other rule of that
/// window (here the user rule a rogue floods through), so the flood filled an innocent's own counter: under a
/// token-bucket content rule its own bucket denied it, under any content rule a denial by the text-wide cap was a
/// bulk_content trip. The own copies are tallies: a full store leaves them uncounted (at worst a trip missed).
/// </summary>
public sealed class InMemoryFullStoreOwnCopiesTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    private static readonly string[] s_floodRecipients = [.. Enumerable.Range(0, 10).Select(r => string.Create(CultureInfo.InvariantCulture, $"r{r}@flood.example"))];

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    [InlineData(RateLimitAlgorithm.TokenBucket)]
    public async Task FullStore_RogueFloodsTheOverflowSketch_InnocentsOwnCopiesNeitherDenyNorTrip(RateLimitAlgorithm algorithm)
    {
        // Arrange: 5 copies of a text an hour, and a user rule of the same shape (10 an hour) for the flood to go through.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 4, SweepInterval = TimeSpan.FromDays(1) }, time);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero };
        options.Content.Add(algorithm == RateLimitAlgorithm.TokenBucket ? RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 5) : new RateLimitRule(5, TimeSpan.FromHours(1), algorithm));
        options.User.Add(algorithm == RateLimitAlgorithm.TokenBucket ? RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 10) : new RateLimitRule(10, TimeSpan.FromHours(1), algorithm));
        options.BulkContent.Trips = 1;

        // The trips' own counter is a fixed window of the period: one of another shape than the flood's, whose sketch
        // would read the victim's first trip as over the limit and flag no one.
        options.BulkContent.Period = TimeSpan.FromHours(2);
        SendGuardHarness h = new(time, store, new InMemoryEmailGuardStateStore(time), options, null);

        // The store's 4 counters, taken while it has room: a text another tenant sent once, and one the rogue filled.
        (await h.Guard.CheckAsync(Text("other", "notice"))).IsAllowed.Should().BeTrue();
        for (int i = 0; i < 5; i++)
        {
            (await h.Guard.CheckAsync(Text("rogue", "order"))).IsAllowed.Should().BeTrue();
        }

        // The rogue's flood: content-less messages to 10 from new users, each a new user key that the full store counts in
        // its overflow sketch, 10 at once, until 200 new users in a row find every cell of theirs full.
        int deniedInARow = 0;
        for (int i = 0; deniedInARow < 200 && i < 100_000; i++)
        {
            OutboundEmail flood = new() { To = s_floodRecipients, UserId = string.Create(CultureInfo.InvariantCulture, $"flood-{i}") };
            deniedInARow = (await h.Guard.CheckAsync(flood)).IsAllowed ? 0 : deniedInARow + 1;
        }

        deniedInARow.Should().Be(200, "the flood filled the sketch");
        store.TrackedKeys.Should().Be(4);

        // Act: the victim's first copy of the text the other tenant sent (1 of 5 in the text's exact counter), and its
        // first copy of the text the rogue filled.
        EmailSendDecision withinTheRate = await h.Guard.CheckAsync(Text("victim", "notice"));
        EmailSendDecision filledByTheRogue = await h.Guard.CheckAsync(Text("victim", "order"));

        // Assert
        withinTheRate.IsAllowed.Should().BeTrue("its own copies never deny, whatever the sketch says of its new key");
        filledByTheRogue.Dimension.Should().Be(EmailGuardDimension.Content, "the rogue's 5 copies fill the text's counter");
        (await h.Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "victim")).Should().BeEmpty("it had no copy of its own: alone, this one would have fit");
        store.TrackedKeys.Should().Be(4, "the victim's own copies found the store full");
    }

    private static OutboundEmail Text(string tenant, string text) => new()
    {
        To = [$"buyer@{tenant}-partners.example"],
        TenantId = tenant,
        Content = new EmailContent
        {
            Subject = "From Northwind",
            TextBody = $"Please find attached our {text} for the spring collection, with the delivery dates we agreed on the phone last week.",
        },
    };
}
