using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// Lists and flags changed through one instance reach another that had no check meanwhile: the host refreshes them
/// every <see cref="SendGuardOptions.StateRefreshInterval"/>, so the idle instance's next check already applies them.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisIdleInstanceStateTests(RedisServerFixture redis)
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 6, 30, 0, TimeSpan.Zero));

    [Fact]
    public async Task Lists_ChangedOnOneInstance_ApplyOnAnIdleInstanceAtItsFirstCheckAfterTheInterval()
    {
        await using ServiceProvider a = await StartInstanceAsync();
        await using ServiceProvider b = await StartInstanceAsync();
        IEmailSendGuard guardB = b.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["victim@example.com"], TenantId = "acme" };
        (await guardB.CheckAsync(mail)).IsAllowed.Should().BeTrue();

        await a.GetRequiredService<IEmailGuardLists>().AddAsync(
            EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com", "complaint", duration: TimeSpan.FromDays(1));
        await a.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual);

        // No check reaches B during the interval, as on an instance the load balancer sent nothing to.
        _time.Advance(TimeSpan.FromSeconds(5));
        await (b.GetRequiredService<GuardStateCache>().Refreshing ?? Task.FromResult<GuardStateSnapshot?>(null));

        (await guardB.CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Blocklisted, "B refreshed within the interval, not at this check");
        (await guardB.CheckAsync(new OutboundEmail { To = ["x@example.com"], TenantId = "trial" })).Reason.Should().Be(EmailSendReason.Suspended);
    }

    private async Task<ServiceProvider> StartInstanceAsync()
    {
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(_time);
        services.AddEmailGuard()
            .AddSendGuard(o => o.StateRefreshInterval = TimeSpan.FromSeconds(5))
            .AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = _prefix;
            });
        ServiceProvider provider = services.BuildServiceProvider();
        foreach (IHostedService hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        // The first load the host started.
        await provider.GetRequiredService<GuardStateCache>().StartRefresh();
        return provider;
    }
}
