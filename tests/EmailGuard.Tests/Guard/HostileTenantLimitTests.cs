using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>What a tenant limit provider answers by mistake must never leave a tenant without its limit.</summary>
public sealed class HostileTenantLimitTests
{
    [Fact]
    public async Task CheckAsync_ProviderAnswersLimitsWithoutRules_DefaultTenantRulesStillApply_AndItIsLogged()
    {
        // Arrange: a provider that maps a NULL column into TenantLimits without setting Rules (an ORM, a deserializer:
        // the property is not nullable, but nothing stops them). An empty list means "unlimited" on purpose; a missing one
        // is a mistake, and read as "unlimited" it lifted the tenant's cap without a word.
        FakeLogCollector logs = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Tenant.Add(RateLimitRule.PerHour(3)),
            more: s => s.AddSingleton<ITenantLimitProvider>(new CountingTenantLimitProvider(_ => new TenantLimits { Rules = null! })),
            logs: logs);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial-42" };

        // Act
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 4; i++)
        {
            decisions.Add(await guard.CheckAsync(mail));
        }

        // Assert
        decisions.Take(3).Should().OnlyContain(d => d.IsAllowed);
        decisions[3].Reason.Should().Be(EmailSendReason.LimitExceeded, "the default tenant limit (3 an hour) still applies");
        decisions[3].Dimension.Should().Be(EmailGuardDimension.Tenant);
        logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2930 && r.Message.Contains("trial-42", StringComparison.Ordinal));
    }
}
