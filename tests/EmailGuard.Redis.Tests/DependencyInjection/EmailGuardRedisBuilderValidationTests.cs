using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.DependencyInjection;

/// <summary><c>AddRedisStore</c>'s registration and startup validation, which need no Redis server.</summary>
public sealed class EmailGuardRedisBuilderValidationTests
{
    [Fact]
    public void AddEmailGuard_WithoutRedisStore_KeepsTheInMemoryStore()
    {
        ServiceCollection services = new();
        services.AddEmailGuard();
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IRateLimitStore>().Should().BeOfType<InMemoryRateLimitStore>();
    }

    [Theory]
    [InlineData("a{b", "KeyPrefix")]
    [InlineData("a}b", "KeyPrefix")]
    [InlineData(null, "KeyPrefix")]
    public void AddRedisStore_InvalidKeyPrefix_FailsAtStartupNamingTheSetting(string? prefix, string setting)
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = "127.0.0.1:1";
            o.KeyPrefix = prefix!;
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        start.Should().Throw<OptionsValidationException>().WithMessage($"*{setting}*");
    }

    [Theory]
    [InlineData(-1, 100, 50, "WaitForReplicas")]
    [InlineData(17, 100, 50, "WaitForReplicas")]
    [InlineData(1, 0, 50, "WaitForReplicasMaxLimit")]
    [InlineData(1, 100, 0, "WaitForReplicasTimeout")]
    [InlineData(1, 100, 10_001, "WaitForReplicasTimeout")]
    public void AddRedisStore_InvalidReplicaWait_FailsAtStartupNamingTheSetting(int replicas, long maxLimit, int timeoutMs, string setting)
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = "127.0.0.1:1";
            o.WaitForReplicas = replicas;
            o.WaitForReplicasMaxLimit = maxLimit;
            o.WaitForReplicasTimeout = TimeSpan.FromMilliseconds(timeoutMs);
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        start.Should().Throw<OptionsValidationException>().WithMessage($"*{setting}*");
    }

    [Fact]
    public void AddRedisStore_NoConnectionAnywhere_FailsAtStartupNamingTheSettings()
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o => o.KeyPrefix = "app:");
        using ServiceProvider provider = services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        start.Should().Throw<OptionsValidationException>()
            .WithMessage("*Configuration*ConfigurationOptions*ConnectionMultiplexerFactory*IConnectionMultiplexer*");
    }

    [Fact]
    public void AddRedisStore_TwoConnectionSources_FailsAtStartup()
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = "127.0.0.1:1";
            o.ConfigurationOptions = ConfigurationOptions.Parse("127.0.0.1:2");
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        start.Should().Throw<OptionsValidationException>().WithMessage("*only one of Configuration, ConfigurationOptions and ConnectionMultiplexerFactory*");
    }
}
