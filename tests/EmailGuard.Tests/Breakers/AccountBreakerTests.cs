using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>The account-wide breaker: when the account's ratio nears the provider's line, the risky categories get reduced limits until it falls back.</summary>
public sealed class AccountBreakerTests
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromMinutes(15);

    private readonly List<EmailRatioBreakerArguments> _trips = [];
    private readonly List<EmailRatioBreakerRecoveredArguments> _releases = [];
    private int _next;

    private FeedbackTestApp App(IDictionary<string, string?>? configuration = null) => new(
        configuration: configuration,
        guard: o =>
        {
            o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100));
            o.Categories["password-reset"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100));
            o.Categories["invite"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100));
        },
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.NetworkBouncesToBan = 0;
            o.AccountMinimumSends = 200;
            o.AccountCheckEvery = CheckEvery;
            o.OnTripped = args =>
            {
                _trips.Add(args);
                return ValueTask.CompletedTask;
            };
            o.OnRecovered = args =>
            {
                _releases.Add(args);
                return ValueTask.CompletedTask;
            };
        }));

    /// <summary>Sends <paramref name="count"/> mails of a category; returns how many were admitted and their addresses.</summary>
    private async Task<(int Admitted, List<string> To)> SendAsync(FeedbackTestApp app, string? category, int count)
    {
        List<string> to = [];
        for (int i = 0; i < count; i++)
        {
            string address = $"r{_next++}@example.com";
            if ((await app.Guard.CheckAsync(new OutboundEmail { To = [address], Category = category })).IsAllowed)
            {
                to.Add(address);
            }
        }

        return (to.Count, to);
    }

    private static async Task BounceAsync(FeedbackTestApp app, string? category, IEnumerable<string> addresses)
    {
        foreach (string address in addresses)
        {
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event(
                "evt-" + address, recipient: address, attribution: new EmailSendAttribution { Category = category }))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }
    }

    private static async Task AdvanceAsync(FeedbackTestApp app, TimeSpan by)
    {
        app.Time.Advance(by);
        await app.Services.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
    }

    private static async Task<EmailPartyRatioStatus> CategoryStatusAsync(FeedbackTestApp app, string category)
        => (await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { Category = category })).Ratios[^1];

    [Fact]
    public async Task Account_UnattributedBouncesOverTheLine_TightenSignup()
    {
        // Arrange: the provider's feedback carries no tags and the app tracked no message ids (an Identity sender of the
        // app's own, SES identity notifications): the bounces are counted against the account alone.
        await using FeedbackTestApp app = App();
        (int _, List<string> sent) = await SendAsync(app, "newsletter", 1_000);

        // Act: a bot's signups bounce, 40 in 1,000 (4 %, over the 3 % line).
        foreach (string address in sent.Take(40))
        {
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-" + address, recipient: address))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        // Assert
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(40);
        EmailRatioBreakerArguments trip = _trips.Should().ContainSingle("the account's ratio needs no attribution to be judged").Subject;
        (trip.Dimension, trip.Partition, trip.Reason, trip.Counts.Dimension).Should().Be(
            (EmailGuardDimension.Category, "signup", EmailGuardFlagReasons.AccountBounceRate, EmailGuardDimension.Global));
    }

    [Fact]
    public async Task Account_NearTheLine_TightensSignupNotPasswordReset_HoldsWhileOverTheReleaseLine_ReleasesUnderIt()
    {
        await using FeedbackTestApp app = App();
        (int _, List<string> newsletter) = await SendAsync(app, "newsletter", 1_000);
        await SendAsync(app, "signup", 50);
        await SendAsync(app, "password-reset", 50);

        await BounceAsync(app, "newsletter", newsletter.Take(32));
        _trips.Should().BeEmpty("32 in 1,100 is 2.9 %, under the 3 % line");
        await BounceAsync(app, "newsletter", newsletter.Skip(32).Take(1));

        EmailRatioBreakerArguments trip = _trips.Should().ContainSingle().Subject;
        (trip.Dimension, trip.Partition, trip.Reason, trip.Action).Should().Be(
            (EmailGuardDimension.Category, "signup", EmailGuardFlagReasons.AccountBounceRate, EmailRatioBreakerAction.Reduced));
        trip.Counts.Dimension.Should().Be(EmailGuardDimension.Global, "the account's own ratio decided");
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2603);
        (await CategoryStatusAsync(app, "signup")).Should().BeEquivalentTo(new { BreakerState = EmailRatioBreakerState.Tripped, BreakerReason = "account_bounce_rate" });
        (await CategoryStatusAsync(app, "password-reset")).BreakerState.Should().Be(EmailRatioBreakerState.Closed);

        await AdvanceAsync(app, TimeSpan.FromHours(1));
        _releases.Should().BeEmpty("3 % is still over the 2 % release line at each reading");
        (await SendAsync(app, "signup", 11)).Admitted.Should().Be(10, "tightened, signup gets a tenth of its 100 an hour");
        (await SendAsync(app, "password-reset", 100)).Admitted.Should().Be(100, "password reset is not a risky category");
        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { Category = "signup" });
        status.Usage.Single(u => u.Dimension == EmailGuardDimension.Category).Limit.Should().Be(10);
        status.Flags.Should().ContainSingle(f => f.PartyType == EmailGuardPartyType.Category && f.Reason == EmailGuardFlagReasons.AccountBounceRate);

        // Good mail brings the account's ratio under the release line: 33 in 1,770 is 1.86 %.
        await SendAsync(app, "newsletter", 560);
        await AdvanceAsync(app, CheckEvery);

        EmailRatioBreakerRecoveredArguments release = _releases.Should().ContainSingle().Subject;
        (release.Dimension, release.Partition, release.Reason).Should().Be((EmailGuardDimension.Category, "signup", EmailGuardFlagReasons.AccountBounceRate));
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2604);
        (await CategoryStatusAsync(app, "signup")).BreakerState.Should().Be(EmailRatioBreakerState.Closed);
        await AdvanceAsync(app, TimeSpan.FromHours(1));
        (await SendAsync(app, "signup", 100)).Admitted.Should().Be(100, "released, signup is back at its full cap");
    }

    [Fact]
    public async Task Attack_BouncingSignupFloodDilutedWithGoodMail_StillTightensSignup()
    {
        // The bot's signups bounce; it also requests thousands of password resets for accounts it controls, which do not
        // bounce, to keep the account's ratio far under the line.
        await using FeedbackTestApp app = App();
        (int _, List<string> signups) = await SendAsync(app, "signup", 100);
        for (int hour = 0; hour < 20; hour++)
        {
            await SendAsync(app, "password-reset", 100);
            await AdvanceAsync(app, TimeSpan.FromHours(1));
        }

        await SendAsync(app, "signup", 100);
        await BounceAsync(app, "signup", signups.Take(6));

        EmailFeedbackCounts account = await app.Counts.GetAsync(EmailGuardDimension.Global, null);
        account.Sends.Should().BeGreaterThan(2_000);
        account.BounceRate.Should().BeLessThan(0.01, "diluted, the account is far under the line");
        EmailRatioBreakerArguments trip = _trips.Should().ContainSingle().Subject;
        (trip.Dimension, trip.Partition).Should().Be((EmailGuardDimension.Category, "signup"));
        trip.Counts.Dimension.Should().Be(EmailGuardDimension.Category, "the category's own ratio, 6 in 200, cannot be diluted by other categories");
        (await CategoryStatusAsync(app, "password-reset")).BreakerState.Should().Be(EmailRatioBreakerState.Closed);
    }

    [Fact]
    public async Task Account_UnderTheMinimumVolume_DoesNotTighten()
    {
        await using FeedbackTestApp app = App();
        (int _, List<string> to) = await SendAsync(app, "signup", 100);
        await BounceAsync(app, "signup", to.Take(50));

        _trips.Should().BeEmpty("100 sends are under the 200 the account-wide breaker needs");
    }

    [Fact]
    public async Task Configuration_RiskyCategories_ReplacesTheDefault()
    {
        // The binder appends to a list that holds a default: ["invite"] must not leave signup tightened as well.
        await using FeedbackTestApp app = App(new Dictionary<string, string?> { ["EmailGuard:RatioBreakers:RiskyCategories:0"] = "invite" });
        app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().Equal("invite");

        (int _, List<string> signups) = await SendAsync(app, "signup", 100);
        await SendAsync(app, "invite", 100);
        await BounceAsync(app, "signup", signups.Take(30));

        EmailRatioBreakerArguments trip = _trips.Should().ContainSingle().Subject;
        (trip.Dimension, trip.Partition).Should().Be((EmailGuardDimension.Category, "invite"), "the account's 15 % tightens the configured risky category only");
        (await CategoryStatusAsync(app, "signup")).BreakerState.Should().Be(EmailRatioBreakerState.Closed);
        (await CategoryStatusAsync(app, "invite")).BreakerState.Should().Be(EmailRatioBreakerState.Tripped);
    }

    [Fact]
    public async Task Configuration_EmptyRiskyCategories_TurnsTheAccountBreakerOff()
    {
        // JSON's "RiskyCategories": [] arrives as the key with an empty value.
        await using FeedbackTestApp app = App(new Dictionary<string, string?> { ["EmailGuard:RatioBreakers:RiskyCategories"] = string.Empty });
        app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().BeEmpty();

        (int _, List<string> signups) = await SendAsync(app, "signup", 200);
        await BounceAsync(app, "signup", signups.Take(30));

        _trips.Should().BeEmpty();
        (await CategoryStatusAsync(app, "signup")).BreakerState.Should().Be(EmailRatioBreakerState.Closed);
    }

    [Fact]
    public async Task Configuration_NoRiskyCategories_KeepsTheDefault()
    {
        await using FeedbackTestApp app = App(new Dictionary<string, string?> { ["EmailGuard:RatioBreakers:MinimumSends"] = "50" });
        app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmailRatioBreakerOptions>>().Value.RiskyCategories.Should().Equal("signup");
    }
}
