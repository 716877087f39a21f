using EmailGuard.Testing.Configuration;
using Microsoft.Extensions.Configuration;
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

    [Fact]
    public void AddRedisStore_MistakesOfEveryKindInTheSection_FailStartupTogether()
    {
        // The misspelt Conection names no likely setting, so no check of what was not written is reported: not the
        // missing connection, which is likely what Conection held.
        ServiceCollection services = new();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EmailGuard:Redis:Conection"] = "localhost:6379",
            ["EmailGuard:Redis:UseServerTime"] = "sometimes",
            ["EmailGuard:Redis:WaitForReplicas"] = "17",
        }).Build());
        services.AddEmailGuard().AddRedisStore();
        using ServiceProvider provider = services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        OptionsValidationException failure = start.Should().Throw<OptionsValidationException>().Which;
        StartupFailure.ShouldBeOnePer(
            [.. failure.Failures],
            "EmailGuard:Redis:Conection: unknown setting; RedisRateLimitStoreOptions has ",
            "EmailGuard:Redis:UseServerTime: 'sometimes' is not true or false.",
            "EmailGuard:Redis:WaitForReplicas must be between 0 and 16; it is 17.");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(60_001)]
    public void AddRedisStore_OverLimitCacheMaxAgeOutOfRange_FailsAtStartupNamingTheSetting(int maxAgeMs)
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = "127.0.0.1:1";
            o.OverLimitCacheMaxAge = TimeSpan.FromMilliseconds(maxAgeMs);
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        start.Should().Throw<OptionsValidationException>().WithMessage("*EmailGuard:Redis:OverLimitCacheMaxAge must be between 00:00:00 and 00:01:00; it is *");
    }

    [Fact]
    public void AddRedisStore_OverLimitCacheMaxAgeZero_StartsWithTheCacheOff()
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = "127.0.0.1:1";
            o.OverLimitCacheMaxAge = TimeSpan.Zero;
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IStartupValidator>().Validate();

        provider.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value.OverLimitCacheMaxAge.Should().Be(TimeSpan.Zero);
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

        start.Should().Throw<OptionsValidationException>().WithMessage($"*EmailGuard:Redis:{setting} must be *; it is *");
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

    [Fact]
    public void AddRedisStore_WithoutArguments_BindsTheEmailGuardRedisSection()
    {
        using ServiceProvider provider = WithConfiguration(new()
        {
            ["EmailGuard:Redis:Configuration"] = "127.0.0.1:1",
            ["EmailGuard:Redis:KeyPrefix"] = "from-config:",
            ["EmailGuard:Redis:UseServerTime"] = "false",
        }).AddRedisStore().Services.BuildServiceProvider();

        RedisRateLimitStoreOptions options = provider.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value;

        options.Configuration.Should().Be("127.0.0.1:1");
        options.KeyPrefix.Should().Be("from-config:");
        options.UseServerTime.Should().BeFalse();
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void AddRedisStore_BatchAcrossKeys_BoundFromConfiguration_TheStoreBatchesOrNot(string? configured, bool batches)
    {
        Dictionary<string, string?> settings = new() { ["EmailGuard:Redis:Configuration"] = "127.0.0.1:1" };
        if (configured is not null)
        {
            settings["EmailGuard:Redis:BatchAcrossKeys"] = configured;
        }

        using ServiceProvider provider = WithConfiguration(settings).AddRedisStore().Services.BuildServiceProvider();

        provider.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value.BatchAcrossKeys.Should().Be(batches);
        RedisRateLimitStore store = (RedisRateLimitStore)provider.GetRequiredService<IRateLimitStore>();
        (store.Batcher is not null).Should().Be(batches);
    }

    [Fact]
    public void AddRedisStore_CodeAndConfiguration_CodeWinsAndConfigurationFillsTheRest()
    {
        using ServiceProvider provider = WithConfiguration(new()
        {
            ["EmailGuard:Redis:Configuration"] = "127.0.0.1:1",
            ["EmailGuard:Redis:KeyPrefix"] = "from-config:",
        }).AddRedisStore(o => o.KeyPrefix = "from-code:").Services.BuildServiceProvider();

        RedisRateLimitStoreOptions options = provider.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value;

        options.KeyPrefix.Should().Be("from-code:");
        options.Configuration.Should().Be("127.0.0.1:1");
    }

    [Fact]
    public void AddRedisStore_CalledTwice_BindsConfigurationOnceAndRunsBothConfigures()
    {
        IEmailGuardBuilder builder = WithConfiguration(new() { ["EmailGuard:Redis:Configuration"] = "127.0.0.1:1" });
        builder.AddRedisStore(o => o.KeyPrefix = "first:").AddRedisStore(o => o.KeyPrefix += "second:");
        using ServiceProvider provider = builder.Services.BuildServiceProvider();

        provider.GetServices<IConfigureOptions<RedisRateLimitStoreOptions>>()
            .Count(c => c.GetType().Name == "RedisOptionsFromConfiguration").Should().Be(1);
        provider.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value.KeyPrefix.Should().Be("first:second:");
    }

    [Fact]
    public void AddRedisStore_SectionWithoutConnection_FailsAtStartupNamingTheSettings()
    {
        using ServiceProvider provider = WithConfiguration(new() { ["EmailGuard:Redis:KeyPrefix"] = "app:" })
            .AddRedisStore().Services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        start.Should().Throw<OptionsValidationException>().WithMessage("*Configuration*");
    }

    [Theory]
    [InlineData("EmailGuard:Redis:KeyPrefx", "app:", "EmailGuard:Redis:KeyPrefx*did you mean KeyPrefix?")]
    [InlineData("EmailGuard:Redis:UseServerTime", "sometimes", "EmailGuard:Redis:UseServerTime*")]
    [InlineData("EmailGuard:Redis:WaitForReplicas", "17", "EmailGuard:Redis:WaitForReplicas must be between 0 and 16; it is 17.")]
    // A bound at the end of its type is no bound (it printed as 9.223372036854776E+18), and a time span reads to the millisecond.
    [InlineData("EmailGuard:Redis:WaitForReplicasMaxLimit", "0", "EmailGuard:Redis:WaitForReplicasMaxLimit must be at least 1; it is 0.")]
    [InlineData("EmailGuard:Redis:WaitForReplicasTimeout", "0s", "EmailGuard:Redis:WaitForReplicasTimeout must be between 00:00:00.001 and 00:00:10; it is 00:00:00.")]
    [InlineData("EmailGuard:Redis:StateWaitForReplicas", "-1", "EmailGuard:Redis:StateWaitForReplicas must be between 0 and 16; it is -1.")]
    [InlineData("EmailGuard:Redis:StateWaitForReplicasTimeout", "0s", "EmailGuard:Redis:StateWaitForReplicasTimeout must be between 00:00:00.001 and 00:00:10; it is 00:00:00.")]
    [InlineData("EmailGuard:Redis:StateWaitForReplicasTimeout", "00:00:11", "EmailGuard:Redis:StateWaitForReplicasTimeout must be between 00:00:00.001 and 00:00:10; it is 00:00:11.")]
    [InlineData("EmailGuard:Redis:KeyPrefix", "{tenant}:", "EmailGuard:Redis:KeyPrefix must not contain '{' or '}'")]
    // A malformed connection string fails at startup naming the setting, not when the store is first resolved with
    // .NET's "(Parameter 'ssl')" text; the string itself is not quoted back, as it may hold a password.
    [InlineData("EmailGuard:Redis:Configuration", "localhost:6379,ssl=maybe", "EmailGuard:Redis:Configuration is not a StackExchange.Redis connection string: Keyword 'ssl' requires a boolean value; the value 'maybe' is not recognised.")]
    [InlineData("EmailGuard:Redis:Configuration", "localhost:6379,bogusoption=1", "EmailGuard:Redis:Configuration is not a StackExchange.Redis connection string: Keyword 'bogusoption' is not supported.")]
    [InlineData("EmailGuard:Redis:Configuration", ",,,", "EmailGuard:Redis:Configuration names no Redis server; start it with host:port, such as localhost:6379.")]
    [InlineData("EmailGuard:Redis:Configuration", " ", "EmailGuard:Redis:Configuration is empty and nothing else names a Redis server; set Configuration")]
    public void AddRedisStore_MalformedSetting_FailsAtStartupWithItsPath(string key, string value, string message)
    {
        using ServiceProvider provider = WithConfiguration(new() { ["EmailGuard:Redis:Configuration"] = "127.0.0.1:1", [key] = value })
            .AddRedisStore().Services.BuildServiceProvider();

        Action start = provider.GetRequiredService<IStartupValidator>().Validate;

        OptionsValidationException failure = start.Should().Throw<OptionsValidationException>().WithMessage($"*{message}*").Which;
        failure.Failures.Should().AllSatisfy(f => f.Should().StartWith("EmailGuard:Redis:").And.NotContain("(Parameter '").And.NotContain("\n"));
    }

    private static IEmailGuardBuilder WithConfiguration(Dictionary<string, string?> values)
    {
        ServiceCollection services = new();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        return services.AddEmailGuard();
    }
}
