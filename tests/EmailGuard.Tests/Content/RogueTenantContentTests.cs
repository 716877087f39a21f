using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Content;

/// <summary>
/// A rogue tenant ("tenant-a") sends another tenant's text ("tenant-b"'s) first. The content rules count a text across
/// every tenant, by design: a campaign spread over many tenants or users is one text, and the text-wide cap denies the
/// innocent tenant's copies while it is full. A denial is a bulk_content trip only for a party whose own copies of the
/// denying text alone exceed the rule, so the innocent tenant is not flagged, and the rogue that keeps sending is.
/// </summary>
public sealed class RogueTenantContentTests
{
    private static readonly EmailContent Text = new()
    {
        Subject = "Purchase order 4711 from Northwind",
        TextBody = "Please find our purchase order 4711 attached. Delivery to our warehouse in Hamburg by the end of the month, as agreed.",
    };

    private static readonly EmailContent OtherText = new()
    {
        Subject = "Your delivery",
        TextBody = "Your delivery left our warehouse this morning; the carrier will call before it arrives.",
    };

    // Long enough for the near-duplicate bands (20 words), and one word from the rogue's rewrite below.
    private const string Order = "Please find attached our purchase order for the spring collection. We ask for delivery to the central "
        + "warehouse in Hamburg within three weeks, packed on pallets as agreed in the framework contract. Invoices go to our accounts "
        + "payable team, quoting the order number on every page, and questions about the";

    private static readonly EmailContent BandText = new() { Subject = "Purchase order from Northwind", TextBody = Order + " delivery schedule go to Anna." };

    private static readonly EmailContent BandRewrite = new() { Subject = "Purchase order from Northwind", TextBody = Order + " delivery timetable go to Anna." };

    private static FeedbackTestApp App(bool nearDuplicate = false) => new(guard: o =>
    {
        o.Tenant.Add(RateLimitRule.PerHour(1_000));
        o.Content.Add(RateLimitRule.PerHour(50));
        o.BulkContent.Trips = 3;
        o.NearDuplicate.Enabled = nearDuplicate;
    });

    private static OutboundEmail Mail(string tenant, string to, EmailContent content, string? user = null) => new()
    {
        To = [to],
        Sender = $"noreply@{tenant}.example",
        TenantId = tenant,
        UserId = user ?? tenant + "-user",
        Category = "share",
        Content = content,
    };

    private static async Task<IReadOnlyList<EmailGuardFlag>> FlagsAsync(FeedbackTestApp app, EmailGuardPartyType type, string id)
        => await app.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(type, id);

    private static async Task SendAsync(FeedbackTestApp app, string tenant, int copies, EmailContent content, bool allowed = true)
    {
        for (int i = 0; i < copies; i++)
        {
            EmailSendDecision decision = await app.Guard.CheckAsync(Mail(tenant, $"r{i}@{tenant}-customers.example", content));
            decision.IsAllowed.Should().Be(allowed);
        }
    }

    private static async Task<List<EmailSendDecision>> VictimSendsAsync(FeedbackTestApp app, int copies, EmailContent content)
    {
        List<EmailSendDecision> own = [];
        for (int i = 0; i < copies; i++)
        {
            own.Add(await app.Guard.CheckAsync(Mail("tenant-b", $"supplier{i}@tenant-b-suppliers.example", content)));
        }

        return own;
    }

    [Fact]
    public async Task RogueSpendsAnotherTenantsTextFirst_ThatTenantsCopiesAreDeniedButNeitherItNorItsUserIsFlagged()
    {
        // Arrange: the rogue received the other tenant's purchase order (it is one of its suppliers) and sends the text,
        // numbers and all (they are masked), to 50 addresses of its own: all admitted, the text's hourly 50 used up.
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-a", 50, Text);

        // Act: the tenant whose text it is sends it to 3 suppliers.
        List<EmailSendDecision> own = await VictimSendsAsync(app, 3, Text);

        // Assert: denied by the content rule while the text's counter is full, which is what a text-wide cap does; but
        // the innocent tenant's own copies (none) and this one would have fit its limit, so no denial is a trip of it or
        // its user. (Before the per-party count, each was a trip and the third flagged both.)
        own.Should().AllSatisfy(d => d.Dimension.Should().Be(EmailGuardDimension.Content));
        (await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-b")).Should().BeEmpty();
        (await FlagsAsync(app, EmailGuardPartyType.User, "tenant-b-user")).Should().BeEmpty();
        (await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-a")).Should().BeEmpty("the rogue's copies were all admitted: no denial, no trip");
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 3064).Should().Be(6, "each denial, for the tenant and for its user, is logged as not a trip");

        // The innocent tenant's other mail goes out at its full limits.
        EmailSendDecision other = await app.Guard.CheckAsync(Mail("tenant-b", "customer@tenant-b-customers.example", OtherText));
        other.IsAllowed.Should().BeTrue();
        other.GetRemaining(EmailGuardDimension.Tenant).Should().Be(1_000 - 1, "not a tenth of the limit");
    }

    [Fact]
    public async Task RogueFills49Of50_VictimSendsOneAndThenIsDenied_VictimIsNotFlagged()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-a", 49, Text);

        List<EmailSendDecision> own = await VictimSendsAsync(app, 4, Text);

        own[0].IsAllowed.Should().BeTrue("the one copy the rogue left");
        own.Skip(1).Should().AllSatisfy(d => d.Dimension.Should().Be(EmailGuardDimension.Content));
        (await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-b")).Should().BeEmpty("its own 1 copy and each denied one are 2 of 50");
        (await FlagsAsync(app, EmailGuardPartyType.User, "tenant-b-user")).Should().BeEmpty();
    }

    [Fact]
    public async Task RogueSpreadsItsCopiesOverManyUsers_TheTenantsOwnCountTripsTheTenant_NotAUserWithFewCopies()
    {
        // Arrange: 50 users of the rogue tenant send one copy each.
        await using FeedbackTestApp app = App();
        for (int i = 0; i < 50; i++)
        {
            (await app.Guard.CheckAsync(Mail("tenant-a", $"r{i}@tenant-a-customers.example", Text, user: $"a-user{i}"))).IsAllowed.Should().BeTrue();
        }

        // Act: user 0, whose own copy is 1 of them, keeps sending; the tenant's own copies are the whole 50.
        List<IReadOnlyList<EmailGuardFlag>> tenantFlags = [];
        for (int i = 0; i < 3; i++)
        {
            EmailSendDecision decision = await app.Guard.CheckAsync(Mail("tenant-a", $"more{i}@tenant-a-customers.example", Text, user: "a-user0"));
            decision.Dimension.Should().Be(EmailGuardDimension.Content);
            tenantFlags.Add(await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-a"));
        }

        // Assert: the tenant is flagged at the third trip exactly; the user, whose own copies would have fit, is not.
        tenantFlags[0].Should().BeEmpty();
        tenantFlags[1].Should().BeEmpty();
        tenantFlags[2].Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.BulkContent);
        (await FlagsAsync(app, EmailGuardPartyType.User, "a-user0")).Should().BeEmpty("1 own copy and the denied one are 2 of 50");
    }

    [Fact]
    public async Task RogueSendsARewriteSharingABandWithTheVictimsText_VictimDeniedByTheBandButNotFlagged()
    {
        // Arrange: one word changed, so a new exact fingerprint, but the near-duplicate bands mostly shared.
        await using FeedbackTestApp app = App(nearDuplicate: true);
        await SendAsync(app, "tenant-a", 50, BandRewrite);

        // Act
        List<EmailSendDecision> own = await VictimSendsAsync(app, 3, BandText);

        // Assert: a band of the rogue's rewrite denied the victim's own text, yet the victim's own copies of that band are none.
        own.Should().AllSatisfy(d =>
        {
            d.Dimension.Should().Be(EmailGuardDimension.Content);
            d.Partition.Should().StartWith("nd", "the exact fingerprints differ: a band denied");
        });
        (await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-b")).Should().BeEmpty();
        (await FlagsAsync(app, EmailGuardPartyType.User, "tenant-b-user")).Should().BeEmpty();

        // The rogue that keeps sending its rewrite trips on its own band and fingerprint counts.
        await SendAsync(app, "tenant-a", 3, BandRewrite, allowed: false);
        (await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-a")).Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.BulkContent);
        (await FlagsAsync(app, EmailGuardPartyType.User, "tenant-a-user")).Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.BulkContent);
    }

    [Fact]
    public async Task RogueExceedsTheLimitOnItsOwn_IsFlaggedExactlyAtTrips()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, "tenant-a", 50, Text);

        List<int> flagsAfter = [];
        for (int i = 0; i < 3; i++)
        {
            (await app.Guard.CheckAsync(Mail("tenant-a", $"more{i}@tenant-a-customers.example", Text))).Dimension.Should().Be(EmailGuardDimension.Content);
            flagsAfter.Add((await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-a")).Count + (await FlagsAsync(app, EmailGuardPartyType.User, "tenant-a-user")).Count);
        }

        flagsAfter.Should().Equal([0, 0, 2], "the tenant and its user, both at their third trip");
    }

    [Fact]
    public async Task AMessageLargerThanTheLimitByItself_IsATripWhoeverFilledTheCounter()
    {
        // A party whose one message is over the limit would be denied alone: its trips count.
        await using FeedbackTestApp app = App();
        string[] many = [.. Enumerable.Range(0, 51).Select(i => $"s{i}@tenant-b-suppliers.example")];
        for (int i = 0; i < 3; i++)
        {
            OutboundEmail mail = Mail("tenant-b", "x@tenant-b-suppliers.example", Text);
            (await app.Guard.CheckAsync(new OutboundEmail { To = many, TenantId = mail.TenantId, UserId = mail.UserId, Category = mail.Category, Content = Text }))
                .Dimension.Should().Be(EmailGuardDimension.Content);
        }

        (await FlagsAsync(app, EmailGuardPartyType.Tenant, "tenant-b")).Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.BulkContent);
    }

    [Fact]
    public async Task PublicUsage_LeavesOutTheCountersOfAPartysOwnCopies()
    {
        await using FeedbackTestApp app = App();

        EmailSendDecision decision = await app.Guard.CheckAsync(Mail("tenant-b", "s@tenant-b-suppliers.example", Text));

        decision.IsAllowed.Should().BeTrue();
        decision.Usage.ToArray().Should().HaveCount(2, "the tenant rule and the content rule; the user's and tenant's own copies are bookkeeping")
            .And.OnlyContain(u => u.Limit < RateLimitRule.MaxLimit);
    }
}
