using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// The volume horizon of the ratios ("the last N sends", EmailGuard:Feedback:CountLastSends), judged next to the time
/// window: what a party can and cannot hide from it by timing its bounces or padding them with good mail.
/// </summary>
public sealed class VolumeHorizonTests
{
    private readonly List<EmailRatioBreakerArguments> _trips = [];
    private int _bounces;

    private FeedbackTestApp App(long lastSends, TimeSpan? within = null) => new(
        feedback: o =>
        {
            o.CountLastSends = lastSends;
            o.CountLastSendsWithin = within ?? TimeSpan.FromDays(30);
        },
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 50;
            o.BounceRateToReduce = 0.02;
            o.BounceRateToSuspend = 0.04;
            o.NetworkBouncesToBan = 0;
            o.RiskyCategories.Clear();
            o.OnTripped = args =>
            {
                _trips.Add(args);
                return ValueTask.CompletedTask;
            };
        }));

    private static async Task<List<string>> SendAsync(FeedbackTestApp app, int count, string prefix)
    {
        List<string> admitted = [];
        for (int i = 0; i < count; i++)
        {
            string to = $"{prefix}{i}@example.com";
            if ((await app.Guard.CheckAsync(new OutboundEmail { To = [to], TenantId = "acme" })).IsAllowed)
            {
                admitted.Add(to);
            }
        }

        return admitted;
    }

    private async Task BounceAsync(FeedbackTestApp app, IEnumerable<string> addresses)
    {
        foreach (string address in addresses)
        {
            _bounces++;
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event(
                "evt-" + address, recipient: address, attribution: new EmailSendAttribution { TenantId = "acme" }))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }
    }

    private static Task<EmailFeedbackCounts> TenantAsync(FeedbackTestApp app) => app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme").AsTask();

    private List<EmailRatioBreakerArguments> TenantTrips() => [.. _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant)];

    [Theory]
    [InlineData(0)]
    [InlineData(1_000)]
    public async Task Attack_BanksGoodMailThenBurstsBounces_OnlyTheVolumeHorizonTrips(long lastSends)
    {
        // 9,800 good mails early in the day, then 200 whose bounces arrive together: 190 of 10,000 is 1.9 %, under the 2 %
        // line of the day's window. Over the last 1,000 sends it is 19 %.
        await using FeedbackTestApp app = App(lastSends);
        (await SendAsync(app, 9_800, "good")).Should().HaveCount(9_800);
        List<string> burst = await SendAsync(app, 200, "bot");
        await BounceAsync(app, burst.Take(190));

        EmailFeedbackCounts tenant = await TenantAsync(app);
        tenant.BounceRate.Should().BeLessThan(0.02);
        if (lastSends == 0)
        {
            TenantTrips().Should().BeEmpty("the time window alone is diluted by the banked mail");
            tenant.LastSendsHorizon.Should().Be(0);
            return;
        }

        tenant.LastSends.Should().BeInRange(1_000, 1_100);
        tenant.LastSendsBounces.Should().Be(190);
        TenantTrips().Select(t => t.Action).Should().Equal(EmailRatioBreakerAction.Reduced, EmailRatioBreakerAction.Suspended);
        TenantTrips()[0].Counts.LastSendsBounces.Should().BeLessThanOrEqualTo(22, "2 % of the last 1,000 to 1,100 sends");
        TenantTrips()[1].Counts.LastSendsBounces.Should().BeLessThanOrEqualTo(44, "4 % of the last 1,000 to 1,100 sends");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(200)]
    public async Task Attack_TooFewSendsADayToBeJudged_CannotWaitOutTheTimeWindow(long lastSends)
    {
        // 40 mails a day, 2 of them bouncing (5 %): never the 50 sends the day's window needs before it acts.
        await using FeedbackTestApp app = App(lastSends);
        int day = 0;
        for (; day < 5 && TenantTrips().Count == 0; day++)
        {
            List<string> sent = await SendAsync(app, 40, $"d{day}-");
            await BounceAsync(app, sent.Take(2));
            // A day and two hours: the day's window (24 segments of an hour) no longer holds any of the day before.
            app.Time.Advance(TimeSpan.FromHours(26));
        }

        if (lastSends == 0)
        {
            TenantTrips().Should().BeEmpty();
            return;
        }

        day.Should().Be(2, "the second day's bounces are 3, then 4, in 80 of the last sends");
        TenantTrips().Select(t => (t.Action, t.Counts.Sends, t.Counts.LastSends, t.Counts.LastSendsBounces)).Should().Equal(
            (EmailRatioBreakerAction.Reduced, 40L, 80L, 3L), (EmailRatioBreakerAction.Suspended, 40L, 80L, 4L));
    }

    [Fact]
    public async Task Attack_PadsEveryBounceWithEnoughGoodMail_StaysUnderOnlyByStayingUnderTheLine()
    {
        // The documented limit: a bot that sends 60 delivered mails for every bouncing one is at 1.6 %, under the 2 %
        // line over every run of 1,000 sends. It is held to that ratio; the moment it bounces faster, it trips.
        await using FeedbackTestApp app = App(1_000);
        for (int round = 0; round < 40; round++)
        {
            List<string> sent = await SendAsync(app, 61, $"r{round}-");
            await BounceAsync(app, sent.Take(1));
        }

        TenantTrips().Should().BeEmpty();
        (await TenantAsync(app)).LastSendsBounceRate.Should().BeLessThan(0.02);

        int before = _bounces;
        for (int round = 0; TenantTrips().Count == 0 && round < 100; round++)
        {
            List<string> sent = await SendAsync(app, 20, $"f{round}-");
            await BounceAsync(app, sent.Take(1));
        }

        TenantTrips().Should().NotBeEmpty();
        (_bounces - before).Should().BeLessThanOrEqualTo(25, "at 1 in 20 the last 1,000 sends cross 2 % within a thousand sends");
    }

    [Fact]
    public async Task Horizon_ReachesIntoThePreviousPeriod_AndForgetsOlderSends()
    {
        await using FeedbackTestApp app = App(100, within: TimeSpan.FromHours(1));
        List<string> sent = await SendAsync(app, 60, "a");
        await BounceAsync(app, sent.Take(1));
        app.Time.Advance(TimeSpan.FromHours(1));
        await SendAsync(app, 10, "b");

        EmailFeedbackCounts tenant = await TenantAsync(app);
        (tenant.LastSends, tenant.LastSendsBounces).Should().Be((70L, 1L), "a young period reads back into the previous one");

        app.Time.Advance(TimeSpan.FromHours(2));
        tenant = await TenantAsync(app);
        (tenant.LastSends, tenant.LastSendsBounces).Should().Be((0L, 0L), "sends older than the previous period are forgotten");
    }

    [Fact]
    public async Task Status_ReadsTheVolumeHorizon()
    {
        await using FeedbackTestApp app = App(100);
        List<string> sent = await SendAsync(app, 250, "a");
        await BounceAsync(app, sent.Take(1));

        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });
        EmailFeedbackCounts tenant = status.Ratios.Single(r => r.Counts.Dimension == EmailGuardDimension.Tenant).Counts;
        (tenant.LastSendsHorizon, tenant.LastSends, tenant.LastSendsBounces, tenant.Sends).Should().Be((100L, 100L, 1L, 250L));
        tenant.LastSendsBounceRate.Should().Be(0.01);
    }

    [Fact]
    public async Task Duplicate_Feedback_CountsNothingInTheHorizon()
    {
        await using FeedbackTestApp app = App(100);
        List<string> sent = await SendAsync(app, 100, "a");
        await BounceAsync(app, sent.Take(1));
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event(
            "evt-" + sent[0], recipient: sent[0], attribution: new EmailSendAttribution { TenantId = "acme" }))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);

        (await TenantAsync(app)).LastSendsBounces.Should().Be(1);
    }

    [Theory]
    [InlineData("CountLastSends", "5", "EmailGuard:Feedback:CountLastSends")]
    [InlineData("CountLastSends", "-1", "EmailGuard:Feedback:CountLastSends")]
    [InlineData("CountLastSendsWithin", "00:30:00", "EmailGuard:Feedback:CountLastSendsWithin")]
    [InlineData("CountLastSendsWithin", "121.00:00:00", "EmailGuard:Feedback:CountLastSendsWithin")]
    [InlineData("CountLastSendsWithin", "01:00:00.5", "EmailGuard:Feedback:CountLastSendsWithin")]
    public async Task Validation_BadVolumeHorizon_FailsAtStartWithThePath(string setting, string value, string path)
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?> { [$"EmailGuard:Feedback:{setting}"] = value });
        Action act = () => _ = app.Services.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value;
        act.Should().Throw<OptionsValidationException>().WithMessage($"*{path}*");
    }

    [Fact]
    public async Task Configuration_BindsTheVolumeHorizon()
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?>
        {
            ["EmailGuard:Feedback:CountLastSends"] = "1000",
            ["EmailGuard:Feedback:CountLastSendsWithin"] = "7.00:00:00",
        });
        EmailFeedbackOptions options = app.Services.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value;
        (options.CountLastSends, options.CountLastSendsWithin).Should().Be((1_000L, TimeSpan.FromDays(7)));
    }
}
