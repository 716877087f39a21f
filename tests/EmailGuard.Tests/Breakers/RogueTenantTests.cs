using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// A rogue tenant ("tenant-a") tries to stop every other tenant's mail ("tenant-b", "tenant-c") with bounces it makes
/// its own recipients send, while its own breaker stays clear. The breakers' defaults: a tenant is judged from 50 sends,
/// the account from 200, at 3 %.
/// </summary>
public sealed class RogueTenantTests
{
    private readonly List<EmailRatioBreakerArguments> _trips = [];
    private int _next;

    private FeedbackTestApp App() => new(
        guard: o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(10_000));
            o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1_000));
        },
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            // The rogue's mail is triggered by a job of its own, not by requests from one network.
            o.NetworkBouncesToBan = 0;
            o.OnTripped = args =>
            {
                _trips.Add(args);
                return ValueTask.CompletedTask;
            };
        }));

    private static OutboundEmail Mail(string tenant, string to, string category) => new()
    {
        To = [to],
        Sender = $"noreply@{tenant}.example",
        TenantId = tenant,
        UserId = tenant + "-user",
        Category = category,
    };

    /// <summary>Sends <paramref name="count"/> mails of a tenant, all admitted; returns their addresses.</summary>
    private async Task<List<string>> SendAsync(FeedbackTestApp app, string tenant, int count, string category = "signup")
    {
        List<string> to = [];
        for (int i = 0; i < count; i++)
        {
            string address = $"r{_next++}@{tenant}-customers.example";
            (await app.Guard.CheckAsync(Mail(tenant, address, category))).IsAllowed.Should().BeTrue();
            to.Add(address);
        }

        return to;
    }

    private static async Task BounceAsync(FeedbackTestApp app, string tenant, IEnumerable<string> addresses, string category = "signup")
    {
        foreach (string address in addresses)
        {
            EmailSendAttribution attribution = new()
            {
                TenantId = tenant,
                UserId = tenant + "-user",
                Sender = $"noreply@{tenant}.example",
                Category = category,
            };
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-" + address, recipient: address, attribution: attribution)))
                .Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }
    }

    private static async Task<IReadOnlyList<EmailGuardFlag>> FlagsAsync(FeedbackTestApp app, string tenant)
        => await app.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, tenant);

    [Fact]
    public async Task SmallAccount_RogueUnderTheMinimumPutsTheAccountOver_IsSuspendedBeforeSignupIsTightened()
    {
        // Arrange: an innocent tenant's 194 sign-ups and the rogue's 6, the account's 200.
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-b", 194);
        List<string> rogue = await SendAsync(app, "tenant-a", 6);

        // Act: the rogue makes its own recipients bounce. 5 in 200 is 2.5 %, under the account's 3 %.
        await BounceAsync(app, "tenant-a", rogue.Take(5));
        _trips.Should().BeEmpty();
        await BounceAsync(app, "tenant-a", rogue.Skip(5));

        // Assert: the sixth puts the account at 3 %. Without the rogue's 6 sends it reads 0 in 194, under the 2 % release
        // line, so the rogue is judged over the minimum volume, 6 in 50: suspended, its user too, and then sign-ups are
        // tightened for the account.
        _trips.Select(t => (t.Dimension, t.Partition, t.Action)).Should().Equal(
            (EmailGuardDimension.Tenant, "tenant-a", EmailRatioBreakerAction.Suspended),
            (EmailGuardDimension.User, "tenant-a-user", EmailRatioBreakerAction.Suspended),
            (EmailGuardDimension.Category, "signup", EmailRatioBreakerAction.Reduced));
        (await FlagsAsync(app, "tenant-a")).Should().ContainSingle(f => f.Suspend && f.Reason == EmailGuardFlagReasons.HighBounceRate);
        (await app.Guard.CheckAsync(Mail("tenant-a", "more@tenant-a-customers.example", "signup"))).IsAllowed.Should().BeFalse();
        (await app.Guard.CheckAsync(Mail("tenant-a", "more@tenant-a-customers.example", "receipt"))).IsAllowed.Should().BeFalse("suspended, not only its sign-ups");
        (await FlagsAsync(app, "tenant-b")).Should().BeEmpty();
        (await app.Guard.CheckAsync(Mail("tenant-b", "more@tenant-b-customers.example", "receipt"))).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task SmallAccount_InnocentSmallTenantBouncesOnceWhileTheRogueKeepsTheAccountOver_KeepsTheMinimum()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-b", 190);
        List<string> small = await SendAsync(app, "tenant-c", 4);
        List<string> rogue = await SendAsync(app, "tenant-a", 6);
        await BounceAsync(app, "tenant-a", rogue);

        // A typo in one of the small tenant's 4 sign-ups: 7 in 200 is 3.5 %, and without it 6 in 196 is 3.06 %, still over
        // the line. The rogue put the account there, not this bounce: 1 in 4 stays under the minimum volume, as on any day.
        await BounceAsync(app, "tenant-c", small.Take(1));

        (await FlagsAsync(app, "tenant-c")).Should().BeEmpty();
        _trips.Should().NotContain(t => t.Partition == "tenant-c" || t.Partition == "tenant-c-user");
        (await FlagsAsync(app, "tenant-a")).Should().ContainSingle(f => f.Suspend);
    }

    [Fact]
    public async Task LargeAccount_RogueOverItsMinimum_IsSuspendedAtItsSecondBounce_LongBeforeTheAccountMoves()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-b", 1_000, "receipt");
        List<string> rogue = await SendAsync(app, "tenant-a", 50);

        await BounceAsync(app, "tenant-a", rogue.Take(1));
        _trips.Select(t => (t.Partition, t.Action)).Should().Equal(
            ("tenant-a", EmailRatioBreakerAction.Reduced), ("tenant-a-user", EmailRatioBreakerAction.Reduced));
        await BounceAsync(app, "tenant-a", rogue.Skip(1).Take(1));

        (await FlagsAsync(app, "tenant-a")).Should().ContainSingle(f => f.Suspend, "2 in 50 is 4 %, while the account reads 2 in 1,050");
        _trips.Should().NotContain(t => t.Dimension == EmailGuardDimension.Category);
        (await FlagsAsync(app, "tenant-b")).Should().BeEmpty();
    }

    [Fact]
    public async Task SmallAccount_InnocentTenantsBounceIsTheLastToLand_KeepsTheMinimum_TheRogueIsSuspendedAtItsNext()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-b", 190);
        List<string> small = await SendAsync(app, "tenant-c", 4);
        List<string> rogue = await SendAsync(app, "tenant-a", 6);
        await BounceAsync(app, "tenant-a", rogue.Take(5));
        _trips.Should().BeEmpty("5 in 200 is 2.5 %");

        // The small tenant's one bounce takes the account to 3 %; without it the account reads 5 in 196, 2.6 %, over the
        // 2 % release line: the rogue's bounces put it there, not this one.
        await BounceAsync(app, "tenant-c", small.Take(1));
        _trips.Select(t => t.Partition).Should().Equal("signup");
        (await FlagsAsync(app, "tenant-c")).Should().BeEmpty();

        // Without the rogue's sixth bounce and its 6 sends, the account reads 1 in 194: it is what keeps the account over.
        await BounceAsync(app, "tenant-a", rogue.Skip(5));
        (await FlagsAsync(app, "tenant-a")).Should().ContainSingle(f => f.Suspend);
        (await FlagsAsync(app, "tenant-c")).Should().BeEmpty();
    }

    [Fact]
    public async Task Suspension_OfTheRogue_HitsNoTenantWhoseIdIsItsPrefixItsCaseOrItsSpacing()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-b", 194);
        List<string> rogue = await SendAsync(app, "tenant-a", 6);
        await BounceAsync(app, "tenant-a", rogue);
        (await FlagsAsync(app, "tenant-a")).Should().ContainSingle(f => f.Suspend);

        foreach (string other in (string[])["tenant-a1", "tenant-", "Tenant-A", "TENANT-A", "tenant-a ", " tenant-a", "tenant-aa"])
        {
            (await FlagsAsync(app, other)).Should().BeEmpty(other);
            OutboundEmail mail = new() { To = ["x@customers.example"], Sender = "noreply@app.example", TenantId = other, UserId = other, Category = "receipt" };
            EmailSendDecision decision = await app.Guard.CheckAsync(mail);
            decision.IsAllowed.Should().BeTrue($"{other}: {decision.Dimension} {decision.Reason}");
        }
    }

    [Fact]
    public async Task Feedback_RogueEchoesAnotherTenantsTags_ChargedToTheRogueByItsTrackedMessageId()
    {
        // The rogue's mail carried headers of its own naming the other tenant, and the provider echoed them as tags; the
        // guard tracked the message id when it sent the rogue's mail.
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-a", 1);
        await app.Feedback.TrackForProviderAsync("ses", "msg-rogue-1", new EmailSendAttribution { TenantId = "tenant-a", UserId = "tenant-a-user" });

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event(
            "evt-echo", recipient: "r0@tenant-a-customers.example", messageId: "msg-rogue-1",
            attribution: new EmailSendAttribution { TenantId = "tenant-b", UserId = "tenant-b-user" }));

        result.Attribution!.TenantId.Should().Be("tenant-a");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "tenant-a")).Bounces.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "tenant-b")).Bounces.Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.User, "tenant-b-user")).Bounces.Should().Be(0);
    }

    [Fact]
    public async Task Feedback_RogueDrawsAComplaintFromAnotherTenantsCustomer_SuppressesTheAddressForEveryone_ByDesign_ChargedToTheRogue()
    {
        // By design (DESIGN.md: hard bounces and complaints go on the shared blocklist): a complaint suppresses the address
        // account-wide, as the providers' own account-level suppression lists do; the complaint counts against the rogue.
        await using FeedbackTestApp app = App();
        const string Customer = "buyer@tenant-b-customers.example";
        (await app.Guard.CheckAsync(Mail("tenant-a", Customer, "receipt"))).IsAllowed.Should().BeTrue();

        await app.Feedback.RecordAsync(FeedbackTestApp.Event(
            "evt-complaint", EmailFeedbackKind.Complained, recipient: Customer,
            attribution: new EmailSendAttribution { TenantId = "tenant-a", UserId = "tenant-a-user" }));

        EmailSendDecision decision = await app.Guard.CheckAsync(Mail("tenant-b", Customer, "receipt"));
        (decision.IsAllowed, decision.Dimension).Should().Be((false, EmailGuardDimension.Recipient));
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "tenant-a")).Complaints.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "tenant-b")).Complaints.Should().Be(0);
        (await FlagsAsync(app, "tenant-b")).Should().BeEmpty();
    }

    [Fact]
    public async Task ManySmallTenants_EachUnderTheMinimum_NoneTrips_TheAccountBreakerHoldsThem()
    {
        // A known limit, not closed here: a rogue that can open tenants at will splits itself into 20 of 9 sign-ups each,
        // every one under the per-tenant minimum of 50. Next to the innocent tenant's 1,000 receipts the account crosses
        // 3 % at the 36th bounce, the fourth tenant's ninth; without that tenant it reads 2.3 %, over the release line, so
        // no one tenant is what put the account there, and none is judged. What holds them is the account-wide breaker:
        // sign-ups, theirs and everyone's, get a tenth of their cap.
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-b", 1_000, "receipt");
        List<(string Tenant, List<string> To)> rogues = [];
        for (int i = 1; i <= 20; i++)
        {
            rogues.Add(($"tenant-a{i}", await SendAsync(app, $"tenant-a{i}", 9)));
        }

        foreach ((string tenant, List<string> to) in rogues)
        {
            await BounceAsync(app, tenant, to);
        }

        _trips.Select(t => (t.Dimension, t.Partition)).Should().Equal((EmailGuardDimension.Category, "signup"));
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(180);
        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { Category = "signup" });
        status.Usage.Single(u => u.Dimension == EmailGuardDimension.Category).Limit.Should().Be(100, "a tenth of 1,000 an hour");
        (await FlagsAsync(app, "tenant-b")).Should().BeEmpty();
        (await app.Guard.CheckAsync(Mail("tenant-b", "more@tenant-b-customers.example", "receipt"))).IsAllowed.Should().BeTrue();
    }
}
