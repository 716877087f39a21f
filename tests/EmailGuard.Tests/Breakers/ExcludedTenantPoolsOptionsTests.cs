using EmailGuard.Tests.Feedback;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// <see cref="EmailRatioBreakerOptions.ExcludedTenantPools"/> from configuration: a name must be a pool with rules, so a
/// typo stops the app, naming the setting, instead of leaving the pool it meant judged.
/// </summary>
public sealed class ExcludedTenantPoolsOptionsTests
{
    [Theory]
    [InlineData("paidd", "EmailGuard:RatioBreakers:ExcludedTenantPools:0 names the tenant pool 'paidd', which has no rules in EmailGuard:SendGuard:TenantPools*")]
    [InlineData(" paid", "EmailGuard:RatioBreakers:ExcludedTenantPools:0 must be a tenant pool's name of 1 to 256 characters, without whitespace around it.")]
    [InlineData("trial", "EmailGuard:RatioBreakers:ExcludedTenantPools:0 names the tenant pool 'trial'*")]
    public async Task Validation_ExcludedPoolThatIsNoPoolWithRules_FailsAtStartWithThePath(string value, string message)
    {
        // Arrange: the pool paid has rules; trial is configured without any.
        await using FeedbackTestApp app = new(
            guard: Pools,
            configuration: new Dictionary<string, string?> { ["EmailGuard:RatioBreakers:ExcludedTenantPools:0"] = value });

        // Act
        Action act = () => _ = app.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value;

        // Assert
        act.Should().Throw<OptionsValidationException>().WithMessage($"*{message}*");
    }

    [Fact]
    public async Task Configuration_ExcludedPoolInAnyCase_Binds()
    {
        // Arrange
        await using FeedbackTestApp app = new(
            guard: Pools,
            configuration: new Dictionary<string, string?> { ["EmailGuard:RatioBreakers:ExcludedTenantPools:0"] = "PAID" });

        // Act
        EmailRatioBreakerOptions options = app.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value;

        // Assert
        options.ExcludedTenantPools.Should().Equal("PAID");
        app.Feedback.Should().NotBeNull("the breakers are built with the exclusion");
    }

    private static void Pools(SendGuardOptions o)
    {
        o.TenantPools["paid"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(50_000));
        o.TenantPools["trial"] = new SendGuardDimensionOptions();
    }
}
