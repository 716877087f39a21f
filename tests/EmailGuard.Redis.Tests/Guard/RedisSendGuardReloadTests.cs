using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Configuration;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// A reloaded cap on Redis: the over-limit cache holds counts, not verdicts, so a raised cap admits at once; a lowered
/// one denies at once on every instance, as the count carries.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisSendGuardReloadTests(RedisServerFixture redis)
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 5, 0, TimeSpan.Zero));
    private ConnectionMultiplexer Admin => field ??= redis.CreateMultiplexer();

    [Fact]
    public async Task Reload_RaisedGlobalCap_AdmitsAtOnce_ThoughTheOverLimitCacheHeldADenial()
    {
        IConfigurationRoot configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(TestSettings.Parse("EmailGuard:SendGuard:Global:Rules:0:Limit=2", "EmailGuard:SendGuard:StateRefreshInterval=00:00:05"))
            .Build();
        ServiceCollection services = new();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<TimeProvider>(_time);
        services.AddEmailGuard().AddSendGuard();
        await using ServiceProvider sp = services.BuildServiceProvider();
        IOptions<SendGuardOptions> options = sp.GetRequiredService<IOptions<SendGuardOptions>>();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, _prefix + "c:", _time, overLimitCacheMaxAge: TimeSpan.FromHours(1));
        GuardStateCache state = new(new RedisEmailGuardStateStore(new RedisConnection(Admin, _prefix + "s:"), _time), options, _time);
        EmailSendGuard guard = new(
            options, new ResilientRateLimitStore(store, new StoreResilienceOptions(), _time), state, _time,
            reloads: sp.GetRequiredService<IOptionsFactory<SendGuardOptions>>(), configuration: configuration);

        bool[] before = [.. await SendAsync(guard, 4)];
        before.Should().Equal(true, true, false, false);
        store.OverLimitCache!.HitCount.Should().BeGreaterThan(0, "the fourth was denied by the over-limit cache, without Redis");

        configuration["EmailGuard:SendGuard:Global:Rules:0:Limit"] = "4";
        configuration.Reload();

        (await SendAsync(guard, 3)).Should().Equal([true, true, false], "the cache held the count 2, which the raised cap of 4 is above: two more are admitted, by Redis");
    }

    [Fact]
    public async Task Reload_LoweredTenantCap_DeniesAtOnceOnEveryInstance_TheCountCarries()
    {
        // Two app instances (two multiplexers) share the tenant's hourly window in Redis. The fake client clock
        // (UseServerTime false) never moves, so no window ends during the test.
        ConnectionMultiplexer second = redis.CreateMultiplexer();
        (ServiceProvider sp, IConfigurationRoot configuration, EmailSendGuard guard)[] apps = [Start(Admin), Start(second)];
        try
        {
            (await SendAsync(apps[0].guard, 4, "a")).Should().AllBeEquivalentTo(true);
            (await SendAsync(apps[1].guard, 4, "b")).Should().AllBeEquivalentTo(true, "8 of the 10 the tenant may send this hour");

            foreach ((_, IConfigurationRoot configuration, _) in apps)
            {
                configuration["EmailGuard:SendGuard:Tenant:Rules:0:Limit"] = "5";
                configuration.Reload();
            }

            foreach ((_, _, EmailSendGuard guard) in apps)
            {
                EmailSendDecision next = await guard.CheckAsync(new OutboundEmail { To = ["late@example.com"], TenantId = "acme" });
                next.Reason.Should().Be(EmailSendReason.LimitExceeded, "the 8 sent before the reload count against the lowered cap of 5: the counter's key names the window, not the limit");
                next.Dimension.Should().Be(EmailGuardDimension.Tenant);
                next.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Tenant).Rule.Limit.Should().Be(5);
            }
        }
        finally
        {
            foreach ((ServiceProvider sp, _, _) in apps)
            {
                await sp.DisposeAsync();
            }
        }
    }

    /// <summary>One app instance: its own configuration (a tenant cap of 10 an hour) and its own multiplexer to the shared Redis.</summary>
    private (ServiceProvider Services, IConfigurationRoot Configuration, EmailSendGuard Guard) Start(ConnectionMultiplexer multiplexer)
    {
        IConfigurationRoot configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(TestSettings.Parse(
                "EmailGuard:SendGuard:Tenant:Rules:0:Limit=10", "EmailGuard:SendGuard:Tenant:Rules:0:Window=01:00:00", "EmailGuard:SendGuard:StateRefreshInterval=00:00:05"))
            .Build();
        ServiceCollection services = new();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton<TimeProvider>(_time);
        services.AddEmailGuard().AddSendGuard();
        ServiceProvider sp = services.BuildServiceProvider();
        IOptions<SendGuardOptions> options = sp.GetRequiredService<IOptions<SendGuardOptions>>();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(multiplexer, _prefix + "c:", _time, overLimitCacheMaxAge: TimeSpan.FromHours(1));
        GuardStateCache state = new(new RedisEmailGuardStateStore(new RedisConnection(multiplexer, _prefix + "s:"), _time), options, _time);
        EmailSendGuard guard = new(
            options, new ResilientRateLimitStore(store, new StoreResilienceOptions(), _time), state, _time,
            reloads: sp.GetRequiredService<IOptionsFactory<SendGuardOptions>>(), configuration: configuration);
        return (sp, configuration, guard);
    }

    private static async Task<List<bool>> SendAsync(EmailSendGuard guard, int count, string prefix = "r")
    {
        List<bool> allowed = [];
        for (int i = 0; i < count; i++)
        {
            allowed.Add((await guard.CheckAsync(new OutboundEmail { To = [$"{prefix}{i}@example.com"], TenantId = "acme" })).IsAllowed);
        }

        return allowed;
    }
}
