using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.DependencyInjection;

[Collection(RedisServerFixture.CollectionName)]
public sealed class EmailGuardRedisBuilderExtensionsTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    [Fact]
    public async Task AddRedisStore_WithConnectionString_ReplacesTheInMemoryStore()
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = Redis.ConnectionString;
            o.KeyPrefix = Prefix;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        IRateLimitStore store = provider.GetRequiredService<IRateLimitStore>();
        RateLimitDecision decision = await store.AcquireAsync(
            new[] { new RateLimitRequest("di", RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(1))) }, Memory<RateLimitEntry>.Empty);

        store.Should().BeOfType<RedisRateLimitStore>().Which.Connection.Should().BeSameAs(provider.GetRequiredService<RedisConnection>());
        provider.GetRequiredService<RedisConnection>().KeyPrefix.Should().Be(Prefix);
        decision.IsAllowed.Should().BeTrue();
        (await Admin.GetDatabase().KeyExistsAsync(((RedisRateLimitStore)store).CounterKey("di", RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(1))))).Should().BeTrue();
    }

    [Fact]
    public void AddEmailGuard_WithoutRedisStore_KeepsTheInMemoryStore()
    {
        ServiceCollection services = new();
        services.AddEmailGuard();
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IRateLimitStore>().Should().BeOfType<InMemoryRateLimitStore>();
    }

    [Fact]
    public async Task AddRedisStore_NoConnectionSetButMultiplexerRegistered_UsesItLazily()
    {
        int resolved = 0;
        ServiceCollection services = new();
        services.AddSingleton<IConnectionMultiplexer>(_ =>
        {
            Interlocked.Increment(ref resolved);
            return Admin;
        });
        services.AddEmailGuard().AddRedisStore(o => o.KeyPrefix = Prefix);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        IRateLimitStore store = provider.GetRequiredService<IRateLimitStore>();
        int resolvedBeforeFirstCall = resolved;
        RateLimitDecision decision = await store.PeekAsync(
            new[] { new RateLimitRequest("lazy", RateLimitRule.PerMinute(1), 0) }, Memory<RateLimitEntry>.Empty);

        resolvedBeforeFirstCall.Should().Be(0, "the connection is made on first use, not at startup");
        resolved.Should().Be(1);
        decision.IsAllowed.Should().BeTrue();
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
