using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Content;

/// <summary>
/// A rogue tenant ("tenant-a") sends another tenant's text ("tenant-b"'s) first. The content rules count a text across
/// every tenant, by design: a campaign spread over many tenants or users is one text. What that costs the tenant whose
/// text it was is pinned here.
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

    private static FeedbackTestApp App() => new(guard: o =>
    {
        o.Tenant.Add(RateLimitRule.PerHour(1_000));
        o.Content.Add(RateLimitRule.PerHour(50));
        o.BulkContent.Trips = 3;
    });

    private static OutboundEmail Mail(string tenant, string to, EmailContent content) => new()
    {
        To = [to],
        Sender = $"noreply@{tenant}.example",
        TenantId = tenant,
        UserId = tenant + "-user",
        Category = "share",
        Content = content,
    };

    private static async Task<IReadOnlyList<EmailGuardFlag>> FlagsAsync(FeedbackTestApp app, string tenant)
        => await app.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, tenant);

    [Fact]
    public async Task KnownGap_RogueSpendsAnotherTenantsTextFirst_ThatTenantsCopiesAreDeniedAndItIsFlaggedBulkContent_TheRogueIsNot()
    {
        // Arrange: the rogue received the other tenant's purchase order (it is one of its suppliers) and sends the text,
        // numbers and all (they are masked), to 50 addresses of its own: all admitted, the text's hourly 50 used up.
        await using FeedbackTestApp app = App();
        for (int i = 0; i < 50; i++)
        {
            (await app.Guard.CheckAsync(Mail("tenant-a", $"r{i}@tenant-a-customers.example", Text))).IsAllowed.Should().BeTrue();
        }

        // Act: the tenant whose text it is sends it to 3 suppliers.
        List<EmailSendDecision> own = [];
        for (int i = 0; i < 3; i++)
        {
            own.Add(await app.Guard.CheckAsync(Mail("tenant-b", $"supplier{i}@tenant-b-suppliers.example", Text)));
        }

        // Assert: denied by the content rule, which is what a text-wide cap does. The gap: each denial was a bulk-content
        // trip of the innocent tenant and its user, so the third flagged both (a tenth of their limits for 24 hours, for
        // all of their mail), while the rogue, whose copies were all admitted, has no trip and no flag. Closing it needs to
        // know whose copies filled the counter (a per-party count of the text); not done here.
        own.Should().AllSatisfy(d => d.Dimension.Should().Be(EmailGuardDimension.Content));
        (await FlagsAsync(app, "tenant-b")).Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.BulkContent);
        (await FlagsAsync(app, "tenant-a")).Should().BeEmpty();

        // What held: the innocent tenant's other mail still goes out, at its reduced limits.
        (await app.Guard.CheckAsync(Mail("tenant-b", "customer@tenant-b-customers.example", OtherText))).IsAllowed.Should().BeTrue();
    }
}
