using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Configuration;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>A reloaded cap on Redis: the over-limit cache holds counts, not verdicts, so a raised cap admits at once.</summary>
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

    private static async Task<List<bool>> SendAsync(EmailSendGuard guard, int count)
    {
        List<bool> allowed = [];
        for (int i = 0; i < count; i++)
        {
            allowed.Add((await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "acme" })).IsAllowed);
        }

        return allowed;
    }
}
