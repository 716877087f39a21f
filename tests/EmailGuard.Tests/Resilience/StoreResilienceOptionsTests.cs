using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Resilience;

public sealed class StoreResilienceOptionsTests
{
    [Theory]
    [InlineData(nameof(StoreResilienceOptions.Timeout))]
    [InlineData(nameof(StoreResilienceOptions.InstanceCount))]
    [InlineData(nameof(StoreResilienceOptions.ConsecutiveFailureThreshold))]
    [InlineData(nameof(StoreResilienceOptions.FailureRatio))]
    [InlineData(nameof(StoreResilienceOptions.SamplingDuration))]
    [InlineData(nameof(StoreResilienceOptions.MinimumThroughput))]
    [InlineData(nameof(StoreResilienceOptions.BreakDuration))]
    [InlineData(nameof(StoreResilienceOptions.StateLoadTimeout))]
    public void Validation_SettingOutOfRange_FailsNamingTheSetting(string setting)
    {
        ServiceCollection services = new();
        services.AddEmailGuard();
        services.Configure<StoreResilienceOptions>(o =>
        {
            switch (setting)
            {
                case nameof(StoreResilienceOptions.Timeout): o.Timeout = TimeSpan.Zero; break;
                case nameof(StoreResilienceOptions.InstanceCount): o.InstanceCount = 0; break;
                case nameof(StoreResilienceOptions.ConsecutiveFailureThreshold): o.ConsecutiveFailureThreshold = 0; break;
                case nameof(StoreResilienceOptions.FailureRatio): o.FailureRatio = 1.5; break;
                case nameof(StoreResilienceOptions.SamplingDuration): o.SamplingDuration = TimeSpan.Zero; break;
                case nameof(StoreResilienceOptions.MinimumThroughput): o.MinimumThroughput = 1; break;
                case nameof(StoreResilienceOptions.StateLoadTimeout): o.StateLoadTimeout = TimeSpan.FromHours(2); break;
                default: o.BreakDuration = TimeSpan.FromHours(2); break;
            }
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action act = () => _ = provider.GetRequiredService<IOptions<StoreResilienceOptions>>().Value;

        act.Should().Throw<OptionsValidationException>().WithMessage($"*EmailGuard:Resilience:{setting} must be *; it is *", "a startup failure names the setting by its full configuration path");
    }

    [Fact]
    public void Validation_Defaults_Pass()
    {
        ServiceCollection services = new();
        services.AddEmailGuard();
        using ServiceProvider provider = services.BuildServiceProvider();

        StoreResilienceOptions options = provider.GetRequiredService<IOptions<StoreResilienceOptions>>().Value;

        options.Timeout.Should().Be(TimeSpan.FromMilliseconds(250));
        provider.GetRequiredService<ResilientRateLimitStore>().CircuitState.Should().Be(StoreCircuitState.Closed);
    }
}
