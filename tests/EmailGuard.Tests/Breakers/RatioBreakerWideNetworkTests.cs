using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// A client network the ratio breaker would ban that is wider than the lists take (a /8 of IPv4, a /32 of IPv6): a
/// SendGuard:IPv6PrefixLength below 32 groups IPv6 clients that wide, and echoed tags the app did not write can name any
/// network. The lists refuse such an entry; the breaker must not be stopped by the refusal.
/// </summary>
public sealed class RatioBreakerWideNetworkTests
{
    private readonly List<EmailRatioBreakerArguments> _trips = [];

    private FeedbackTestApp App() => new(
        guard: o => o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100)),
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.NetworkBouncesToBan = 2;
            o.AccountMinimumSends = 200;
            o.OnTripped = args =>
            {
                _trips.Add(args);
                return ValueTask.CompletedTask;
            };
        }));

    private static async Task<List<string>> SendAsync(FeedbackTestApp app, int count)
    {
        List<string> to = [];
        for (int i = 0; i < count; i++)
        {
            string address = $"r{i}@example.com";
            (await app.Guard.CheckAsync(new OutboundEmail { To = [address], Category = "newsletter" })).IsAllowed.Should().BeTrue();
            to.Add(address);
        }

        return to;
    }

    private static async Task BounceAsync(FeedbackTestApp app, string address, string? network)
        => (await app.Feedback.RecordAsync(FeedbackTestApp.Event(
            "evt-" + address, recipient: address, attribution: new EmailSendAttribution { Category = "newsletter", ClientNetwork = network }))).Outcome
            .Should().Be(EmailFeedbackOutcome.Recorded);

    [Theory]
    [InlineData("0.0.0.0/4")]
    [InlineData("2001:d00::/24")]
    public async Task NetworkBan_WiderThanTheListsTake_IsNotBanned_AndTheRestOfTheEventIsStillJudged(string network)
    {
        // Arrange: 1,100 sends, 31 bounces without attribution, then a bounce from the wide network (its first).
        await using FeedbackTestApp app = App();
        List<string> sent = await SendAsync(app, 1_100);
        foreach (string address in sent.Take(31))
        {
            await BounceAsync(app, address, network: null);
        }

        await BounceAsync(app, sent[31], network);
        _trips.Should().BeEmpty("32 in 1,100 is 2.9 %, under the account's 3 % line, and the network bounced once");

        // Act: its second bounce is the network's ban line and puts the account over its line (33 in 1,100, 3 %).
        await BounceAsync(app, sent[32], network);

        // Assert: the account's breaker judged the event (the refused ban threw out of the evaluation before it), the
        // network is not on the blocklist, and the operator is told why, once.
        EmailRatioBreakerArguments trip = _trips.Should().ContainSingle().Subject;
        (trip.Dimension, trip.Partition, trip.Reason).Should().Be((EmailGuardDimension.Category, "signup", EmailGuardFlagReasons.AccountBounceRate));
        (await app.Lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.ClientNetwork })).Items.Should().BeEmpty();
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2103, "nothing failed: the ban was not taken");
        await BounceAsync(app, sent[33], network);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3133).Should().ContainSingle()
            .Which.Message.Should().Contain(network).And.Contain("IPv6PrefixLength");
    }
}
