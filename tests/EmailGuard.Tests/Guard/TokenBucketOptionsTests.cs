using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Guard;

public sealed class TokenBucketOptionsTests
{
    [Fact]
    public async Task AddSendGuard_TokenBucketFromConfiguration_IsBoundAndEnforced()
    {
        // Arrange: SES's 14 per second with a burst of 2, and its 24-hour quota, on the global (provider) dimension.
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Global:Rules:0:Algorithm"] = "TokenBucket",
            ["EmailGuard:SendGuard:Global:Rules:0:Limit"] = "14",
            ["EmailGuard:SendGuard:Global:Rules:0:Window"] = "00:00:01",
            ["EmailGuard:SendGuard:Global:Rules:0:Burst"] = "2",
            ["EmailGuard:SendGuard:Global:Rules:1:Limit"] = "50000",
            ["EmailGuard:SendGuard:Global:Rules:1:Window"] = "1.00:00:00",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        // Act
        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["a@example.com"] };
        bool first = (await guard.CheckAsync(mail)).IsAllowed;
        bool second = (await guard.CheckAsync(mail)).IsAllowed;
        EmailSendDecision third = await guard.CheckAsync(mail);

        // Assert
        options.Global.Rules.Select(r => r.ToRule()).Should().Equal(
            RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 2), RateLimitRule.PerDay(50_000));
        first.Should().BeTrue();
        second.Should().BeTrue();
        third.IsAllowed.Should().BeFalse("the burst of 2 is used up and the next permit comes back in 71.429 ms");
        third.Dimension.Should().Be(EmailGuardDimension.Global);
    }

    [Theory]
    [InlineData("FixedWindow", "5", "EmailGuard:SendGuard:Tenant:Rules:0:Burst applies to a TokenBucket only")]
    [InlineData("TokenBucket", "-1", "EmailGuard:SendGuard:Tenant:Rules:0:Burst must be 0 (the limit) or between 1")]
    [InlineData("TokenBucket", "1000000000000", "EmailGuard:SendGuard:Tenant:Rules:0:Burst is too large for this rate")]
    public async Task StartupValidation_InvalidBurst_FailsNamingTheSetting(string algorithm, string burst, string expected)
    {
        // Arrange: a bucket of 1 per day cannot hold 10^12 permits: it would take millions of years to refill.
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Tenant:Rules:0:Algorithm"] = algorithm,
            ["EmailGuard:SendGuard:Tenant:Rules:0:Limit"] = "1",
            ["EmailGuard:SendGuard:Tenant:Rules:0:Window"] = "1.00:00:00",
            ["EmailGuard:SendGuard:Tenant:Rules:0:Burst"] = burst,
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        // Act
        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        // Assert
        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public void From_TokenBucket_RoundTripsRateAndBurst()
    {
        RateLimitRule rule = RateLimitRule.TokenBucket(100, TimeSpan.FromHours(1), 20);

        RateLimitRuleOptions options = RateLimitRuleOptions.From(rule);

        options.Algorithm.Should().Be(RateLimitAlgorithm.TokenBucket);
        options.Limit.Should().Be(100);
        options.Burst.Should().Be(20);
        options.ToRule().Should().Be(rule);
    }
}
