using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// An attacker who chooses the tenant, user or category id of a message (a trial signup, a header the app passes on)
/// sends ids of a megabyte. Each used to reach the app's tenant limit provider and stay in the tenant limit cache
/// (up to 100,000 of them), be hashed into keys and written into log lines, and, past 192 UTF-8 bytes, be left out of
/// the message's attribution, so its bounces and complaints reached no ratio breaker. Now such an id is refused
/// before any of that.
/// </summary>
public sealed class HostilePartyIdTests
{
    private static (ServiceProvider Services, RecordingRateLimitStore Store, CountingTenantLimitProvider Provider) Build(FakeLogCollector? logs = null)
        => PartyIdGuard.Build(100, null, logs);

    private static OutboundEmail Mail(EmailGuardDimension dimension, string id) => new()
    {
        To = ["victim@example.com"],
        TenantId = dimension == EmailGuardDimension.Tenant ? id : "acme",
        UserId = dimension == EmailGuardDimension.User ? id : "u1",
        Category = dimension == EmailGuardDimension.Category ? id : "share",
    };

    [Theory]
    [InlineData(EmailGuardDimension.Tenant)]
    [InlineData(EmailGuardDimension.User)]
    [InlineData(EmailGuardDimension.Category)]
    public async Task Check_IdOfAMegabyte_IsRefusedWithoutTouchingTheStoreOrTheLimitProvider(EmailGuardDimension dimension)
    {
        FakeLogCollector logs = new();
        (ServiceProvider sp, RecordingRateLimitStore store, CountingTenantLimitProvider provider) = Build(logs);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        string huge = new('x', 1 << 20);

        EmailSendDecision decision = await guard.CheckAsync(Mail(dimension, huge));
        EmailSendDecision reserved = await guard.ReserveAsync(Mail(dimension, huge));
        EmailSendDecision peeked = await guard.PeekAsync(Mail(dimension, huge));

        decision.Reason.Should().Be(EmailSendReason.InvalidParty);
        decision.Dimension.Should().Be(dimension);
        decision.IsAllowed.Should().BeFalse();
        decision.Detail.Should().Contain("1048576").And.NotContain("xxxx", "the id itself is never echoed");
        reserved.Reason.Should().Be(EmailSendReason.InvalidParty);
        peeked.Reason.Should().Be(EmailSendReason.InvalidParty);
        store.Acquires.Should().Be(0, "nothing is counted for a refused message");
        store.Keys.Should().BeEmpty();
        provider.Calls(huge).Should().Be(0, "the app's tenant database is not asked about a made-up megabyte");
        logs.GetSnapshot().Where(r => r.Id.Id == 2936).Should().HaveCount(3);
        logs.GetSnapshot().Should().OnlyContain(r => r.Message.Length < 1_000, "no log line carries the id");
    }

    [Theory]
    [InlineData(EmailGuardDimension.Tenant)]
    [InlineData(EmailGuardDimension.User)]
    [InlineData(EmailGuardDimension.Category)]
    public async Task Status_IdOfAMegabyte_IsLeftOutAndNamed_WithoutTheLimitProviderOrAnException(EmailGuardDimension dimension)
    {
        // A status page or an admin API that takes the id from a request: the ratios' read refused such an id with an
        // ArgumentException, after the app's tenant database had been asked about it.
        (ServiceProvider sp, _, CountingTenantLimitProvider provider) = Build();
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        string huge = new('x', 1 << 20);
        OutboundEmail mail = Mail(dimension, huge);

        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = mail.TenantId, UserId = mail.UserId, Category = mail.Category });

        status.InvalidParty.Should().Be(dimension);
        status.IsStoreAvailable.Should().BeTrue();
        status.Usage.Should().NotContain(u => u.Dimension == dimension, "the id is left out of the usage")
            .And.Contain(u => u.Dimension == EmailGuardDimension.Global);
        status.Ratios.Should().NotContain(r => r.Counts.Dimension == dimension).And.Contain(r => r.Counts.Dimension == EmailGuardDimension.Global);
        status.Ratios.Should().Contain(r => r.Counts.Dimension == (dimension == EmailGuardDimension.User ? EmailGuardDimension.Tenant : EmailGuardDimension.User), "the other ids are read as always");
        provider.Calls(huge).Should().Be(0);
        (await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" })).InvalidParty.Should().Be(EmailGuardDimension.None);
    }

    [Fact]
    public async Task Check_FloodOfDistinctLongTenantIds_AsksTheProviderForNone()
    {
        (ServiceProvider sp, _, CountingTenantLimitProvider provider) = Build();
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        int asked = 0;
        int refused = 0;
        for (int i = 0; i < 100; i++)
        {
            string id = i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture) + new string('t', 10_000);
            refused += (await guard.CheckAsync(Mail(EmailGuardDimension.Tenant, id))).Reason == EmailSendReason.InvalidParty ? 1 : 0;
            asked += provider.Calls(id);
        }

        asked.Should().Be(0, "before, each of them was looked up and kept in the tenant limit cache");
        refused.Should().Be(100);
    }

    [Theory]
    [InlineData(EmailGuardDimension.Tenant)]
    [InlineData(EmailGuardDimension.User)]
    [InlineData(EmailGuardDimension.Category)]
    public async Task Check_IdOfExactly192Utf8Bytes_IsAdmitted_AndItsAttributionCarriesIt(EmailGuardDimension dimension)
    {
        (ServiceProvider sp, _, _) = Build();
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // 'é' is 2 bytes in UTF-8: 96 of them are 192 bytes, 97 are one too many.
        string longest = new('é', 96);
        EmailSendDecision decision = await guard.CheckAsync(Mail(dimension, longest));
        EmailSendDecision over = await guard.CheckAsync(Mail(dimension, longest + "é"));

        decision.IsAllowed.Should().BeTrue();
        over.Reason.Should().Be(EmailSendReason.InvalidParty, "97 characters, but 194 bytes: the attribution could not carry it");
        EmailFeedbackTags.TryRead(EmailFeedbackTags.Write(decision.Attribution!), out EmailSendAttribution? read).Should().BeTrue();
        string? carried = dimension switch
        {
            EmailGuardDimension.Tenant => read!.TenantId,
            EmailGuardDimension.User => read!.UserId,
            _ => read!.Category,
        };
        carried.Should().Be(longest, "an id the guard admits reaches the ratio breakers with its bounces and complaints");
    }
}
