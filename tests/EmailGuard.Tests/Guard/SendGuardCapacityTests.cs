using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A configuration whose largest message needs more counters than one store call takes fails at startup, naming the
/// settings, instead of making <c>CheckAsync</c> throw on the first large message.
/// </summary>
public sealed class SendGuardCapacityTests
{
    [Fact]
    public async Task Startup_RecipientsTimesRulesBeyondTheStoreBound_FailsNamingTheSettings()
    {
        // 1,500 x (2 + 1) + 2 = 4,502 counters: the configuration the issue found accepted, then throwing.
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:MaxRecipientsPerMessage"] = "1500",
            ["EmailGuard:SendGuard:Recipient:Rules:0:Limit"] = "5",
            ["EmailGuard:SendGuard:Recipient:Rules:1:Limit"] = "20",
            ["EmailGuard:SendGuard:Recipient:Rules:1:Window"] = "1d",
            ["EmailGuard:SendGuard:RecipientDomain:Rules:0:Limit"] = "500",
            ["EmailGuard:SendGuard:Global:Rules:0:Limit"] = "10000",
            ["EmailGuard:SendGuard:Categories:signup:Rules:0:Limit"] = "1000",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(
            "EmailGuard:SendGuard:MaxRecipientsPerMessage (1500) x (2 EmailGuard:SendGuard:Recipient:Rules + 1 EmailGuard:SendGuard:RecipientDomain:Rules) "
            + "+ 2 message-wide rules (Global 1, Category 1) = 4502 counters for the largest message, more than the 4096 one check can take. "
            + "Lower MaxRecipientsPerMessage to at most 1364, or use fewer rules.");
    }

    [Fact]
    public async Task Startup_CountersOfAPartysOwnCopies_CountInTheCapacityCheck()
    {
        // (1 fingerprint + 4 bands) x 2 content rules = 10, and a user's and a tenant's own copies of each 20 more:
        // 4,070 recipients x 1 rule fit with the 10, not with the 30.
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.MaxRecipientsPerMessage = 4_070;
            o.Recipient.Add(RateLimitRule.PerHour(5));
            o.Content.Add(RateLimitRule.PerHour(50)).Add(RateLimitRule.PerDay(500));
            o.NearDuplicate.Enabled = true;
            o.BulkContent.Trips = 3;
        });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("+ 30 message-wide rules (Content 2, NearDuplicate 8, ContentOwnCopies 20)");
    }

    [Fact]
    public async Task Startup_DefaultMaxRecipientsWithTheDocumentedRules_Passes()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerDay(10_000));
            o.Tenant.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerDay(1_000));
            o.Recipient.Add(RateLimitRule.PerHour(5)).Add(RateLimitRule.PerDay(20));
            o.RecipientDomain.Add(RateLimitRule.PerHour(500));
            o.User.Add(RateLimitRule.PerHour(50));
            o.ClientIp.Add(RateLimitRule.PerHour(20));
        });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().NotThrow();
    }
}
