using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Every counter has a TTL, so every <c>maxmemory-policy</c> but <c>noeviction</c> can evict counters and reset a
/// party's limit. A real redis-server with each policy: the app warns at startup and the health check is Degraded.
/// </summary>
public sealed class RedisEvictionPolicyTests
{
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("allkeys-lru")]
    [InlineData("allkeys-lfu")]
    [InlineData("allkeys-random")]
    [InlineData("volatile-lru")]
    [InlineData("volatile-lfu")]
    [InlineData("volatile-random")]
    [InlineData("volatile-ttl")]
    public async Task Startup_PolicyCanEvictCounters_WarnsAndHealthIsDegraded(string policy)
    {
        using RedisServerProcess server = await StartServerAsync(policy);
        await using TestApp app = await StartAppAsync(server);

        await StartupCheck(app).Current.WaitAsync(s_hangGuard);
        HealthReportEntry health = await HealthAsync(app);

        app.Logs.GetSnapshot().Where(r => r.Id.Id == 1010).Should().ContainSingle()
            .Which.Level.Should().Be(LogLevel.Warning);
        app.Logs.GetSnapshot().Single(r => r.Id.Id == 1010).Message.Should().Contain(policy).And.Contain(server.Endpoint);
        health.Status.Should().Be(HealthStatus.Degraded);
        health.Description.Should().Contain($"maxmemory-policy {policy}");
        ((string[])health.Data["warnings"]).Should().ContainSingle();
    }

    [Fact]
    public async Task Startup_NoEviction_NoWarningAndHealthy()
    {
        using RedisServerProcess server = await StartServerAsync("noeviction");
        await using TestApp app = await StartAppAsync(server);

        await StartupCheck(app).Current.WaitAsync(s_hangGuard);
        HealthReportEntry health = await HealthAsync(app);

        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 1010);
        health.Status.Should().Be(HealthStatus.Healthy);
        StartupCheck(app).Warnings.Should().BeEmpty();
    }

    [Fact]
    public async Task HealthCheck_PolicyChangedAtRuntime_SeenAtTheNextCheckAfterAMinute()
    {
        using RedisServerProcess server = await StartServerAsync("noeviction");
        await using TestApp app = await StartAppAsync(server);
        RedisEvictionPolicyCheck check = StartupCheck(app);
        await check.Current.WaitAsync(s_hangGuard);
        await using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(server.Endpoint + ",allowAdmin=true");
        await admin.GetServers()[0].ConfigSetAsync("maxmemory-policy", "allkeys-lru");

        HealthStatus beforeRecheck = (await HealthAsync(app)).Status;
        app.Time.Advance(TimeSpan.FromMinutes(1));
        _ = await HealthAsync(app);
        await check.Current.WaitAsync(s_hangGuard);
        HealthReportEntry after = await HealthAsync(app);

        beforeRecheck.Should().Be(HealthStatus.Healthy, "the policy is read at most once a minute, in the background");
        after.Status.Should().Be(HealthStatus.Degraded);
        after.Description.Should().Contain("allkeys-lru");
    }

    [Theory]
    [InlineData("noeviction", true)]
    [InlineData("NoEviction", true)]
    [InlineData("volatile-ttl", false)]
    [InlineData("allkeys-lru", false)]
    public void IsSafe_OnlyNoEviction(string policy, bool safe) => RedisEvictionPolicyCheck.IsSafe(policy).Should().Be(safe);

    private static async Task<RedisServerProcess> StartServerAsync(string policy)
    {
        string binary = RedisBinaries.Find("redis-server")
            ?? throw new InvalidOperationException("These tests start their own redis-server: install redis-server (apt-get install redis-server).");
        return await RedisServerProcess.StartAsync(binary, ["--maxmemory", "64mb", "--maxmemory-policy", policy], RedisServerFixture.StartTimeout);
    }

    private static Task<TestApp> StartAppAsync(RedisServerProcess server)
        => TestApp.StartAsync(
            s =>
            {
                s.AddEmailGuard()
                    .AddRedisStore(o =>
                    {
                        o.Configuration = server.Endpoint;
                        o.KeyPrefix = RedisServerFixture.UniquePrefix();
                    })
                    .AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(10))));
                s.AddHealthChecks().AddEmailGuardStore();
            },
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

    private static RedisEvictionPolicyCheck StartupCheck(TestApp app)
        => app.App.Services.GetServices<IStoreConfigurationCheck>().OfType<RedisEvictionPolicyCheck>().Single();

    private static async Task<HealthReportEntry> HealthAsync(TestApp app)
        => (await app.App.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries[EmailGuardHealthChecksBuilderExtensions.DefaultName];
}
