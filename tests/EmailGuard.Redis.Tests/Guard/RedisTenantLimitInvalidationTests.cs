using System.Collections.Concurrent;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// A tenant's plan changed in the app's database and the operator called <see cref="IEmailGuardTenantLimits"/> on one
/// instance: another instance, on its own connection, applies the new limits within
/// <see cref="SendGuardOptions.StateRefreshInterval"/> (as it applies a suspension), not when its cached answer expires
/// (<see cref="SendGuardOptions.TenantLimitCacheDuration"/>, a minute here, which the tests never reach).
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisTenantLimitInvalidationTests(RedisServerFixture redis)
{
    private static readonly TimeSpan s_refresh = TimeSpan.FromSeconds(5);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 6, 30, 0, TimeSpan.Zero));
    private readonly ConcurrentDictionary<string, long> _plans = new(StringComparer.Ordinal);
    private readonly PlansDatabase _stall = new();

    [Fact]
    public async Task Cut_InvalidatedOnInstanceA_IsEnforcedOnInstanceBWithinTheRefreshInterval()
    {
        _plans["acme"] = 100;
        (ServiceProvider a, PlanProvider plansA) = await StartInstanceAsync();
        (ServiceProvider b, PlanProvider plansB) = await StartInstanceAsync();
        await using ServiceProvider ownedA = a;
        await using ServiceProvider ownedB = b;
        (await CheckAsync(a, "acme", 1)).Should().Be(1);
        (await CheckAsync(b, "acme", 1)).Should().Be(1, "B caches acme's 100 an hour");

        _plans["acme"] = 3;
        await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        int onA = await CheckAsync(a, "acme", 1);
        await RefreshAsync(b);
        int onB = await CheckAsync(b, "acme", 5);

        onA.Should().Be(1, "A applies the cut at once: 3 an hour, 2 used");
        onB.Should().Be(0, "B applies it within the interval: 3 used, none left");
        plansB.Lookups("acme").Should().Be(2);
        plansA.Lookups("acme").Should().Be(2);
    }

    [Fact]
    public async Task Cut_OnlyOnInstanceB_ExactlyTheNewCapIsAdmitted()
    {
        _plans["acme"] = 100;
        (ServiceProvider a, _) = await StartInstanceAsync();
        (ServiceProvider b, _) = await StartInstanceAsync();
        await using ServiceProvider ownedA = a;
        await using ServiceProvider ownedB = b;
        (await CheckAsync(b, "acme", 1)).Should().Be(1);

        _plans["acme"] = 3;
        await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        await RefreshAsync(b);
        int admitted = await CheckAsync(b, "acme", 10);

        admitted.Should().Be(2, "3 an hour with 1 used; with the cached 100 all 10 went through");
    }

    [Fact]
    public async Task Upgrade_InvalidatedOnInstanceA_IsEnforcedOnInstanceBWithinTheRefreshInterval()
    {
        _plans["acme"] = 2;
        (ServiceProvider a, _) = await StartInstanceAsync();
        (ServiceProvider b, _) = await StartInstanceAsync();
        await using ServiceProvider ownedA = a;
        await using ServiceProvider ownedB = b;
        (await CheckAsync(b, "acme", 3)).Should().Be(2, "the trial plan: 2 an hour");

        _plans["acme"] = 5;
        await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        await RefreshAsync(b);
        int admitted = await CheckAsync(b, "acme", 5);

        admitted.Should().Be(3, "the paid plan, 5 an hour with 2 used, applies on B; its cached 2 admitted none");
    }

    [Fact]
    public async Task InvalidateOneTenant_LeavesOtherTenantsCachedOnInstanceB_AndInvalidateAll_DropsEvery()
    {
        _plans["acme"] = 100;
        _plans["globex"] = 100;
        (ServiceProvider a, _) = await StartInstanceAsync();
        (ServiceProvider b, PlanProvider plansB) = await StartInstanceAsync();
        await using ServiceProvider ownedA = a;
        await using ServiceProvider ownedB = b;
        await CheckAsync(b, "acme", 1);
        await CheckAsync(b, "globex", 1);

        await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        await RefreshAsync(b);
        await CheckAsync(b, "acme", 1);
        await CheckAsync(b, "globex", 1);
        int[] afterOne = [plansB.Lookups("acme"), plansB.Lookups("globex")];
        await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAllAsync();
        await RefreshAsync(b);
        await CheckAsync(b, "acme", 1);
        await CheckAsync(b, "globex", 1);

        afterOne.Should().Equal([2, 1], "B asked again for acme only");
        plansB.Lookups("acme").Should().Be(3);
        plansB.Lookups("globex").Should().Be(2);
    }

    /// <summary>
    /// The plan changed and A invalidated it, but the plans database hangs or throws for both instances: B, then A, give
    /// the tenant the stricter of its last answer and the defaults. trial: 3 an hour under defaults of 1,000, 2 used
    /// (the defaults would admit all). cut: 10,000 an hour over defaults of 1,000 an hour and 3 a day (the last answer
    /// would admit all; the daily counter is new).
    /// </summary>
    [Theory]
    [InlineData("trial", true, 1)]
    [InlineData("trial", false, 1)]
    [InlineData("cut", true, 3)]
    [InlineData("cut", false, 3)]
    public async Task PlanInvalidated_ProviderHangsOrThrowsOnBothInstances_TheStricterOfTheLastAnswerAndTheDefaultsApplies(string scenario, bool hangs, int expected)
    {
        RateLimitRule[] defaults = scenario == "trial" ? [RateLimitRule.PerHour(1_000)] : [RateLimitRule.PerHour(1_000), RateLimitRule.PerDay(3)];
        _plans["acme"] = scenario == "trial" ? 3 : 10_000;
        (ServiceProvider a, _) = await StartInstanceAsync(defaults);
        (ServiceProvider b, _) = await StartInstanceAsync(defaults);
        await using ServiceProvider ownedA = a;
        await using ServiceProvider ownedB = b;
        (await CheckAsync(a, "acme", 1)).Should().Be(1, "each instance knows the tenant's plan");
        (await CheckAsync(b, "acme", 1)).Should().Be(1);

        _stall.Set(hangs);
        int onB;
        int onA;
        try
        {
            await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
            await RefreshAsync(b);
            onB = await CheckAsync(b, "acme", 5);
            onA = await CheckAsync(a, "acme", 2);
        }
        finally
        {
            _stall.Release();
        }

        onB.Should().Be(expected, $"{scenario}: never more than the last answer or the defaults would admit");
        onA.Should().Be(0, "A applies the same rules to the same counters");
    }

    /// <summary>Advances the clock by the refresh interval, and waits for the refresh the host's timer started on <paramref name="instance"/>.</summary>
    private async Task RefreshAsync(ServiceProvider instance)
    {
        _time.Advance(s_refresh);
        await (instance.GetRequiredService<GuardStateCache>().Refreshing ?? Task.FromResult<GuardStateSnapshot?>(null));
    }

    /// <summary>
    /// Checks <paramref name="count"/> mails of the tenant one after another; returns how many were admitted. A check that
    /// waits for a hung provider is let past the resilience timeout on the fake clock.
    /// </summary>
    private async Task<int> CheckAsync(ServiceProvider instance, string tenant, int count)
    {
        IEmailSendGuard guard = instance.GetRequiredService<IEmailSendGuard>();
        int admitted = 0;
        for (int i = 0; i < count; i++)
        {
            ValueTask<EmailSendDecision> check = guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = tenant });
            if (!check.IsCompleted && _stall.Hung)
            {
                _time.Advance(new StoreResilienceOptions().Timeout);
            }

            EmailSendDecision decision = await check.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            if (decision.IsAllowed)
            {
                admitted++;
            }
            else
            {
                decision.Dimension.Should().Be(EmailGuardDimension.Tenant);
            }
        }

        return admitted;
    }

    private async Task<(ServiceProvider Services, PlanProvider Plans)> StartInstanceAsync(params RateLimitRule[] defaults)
    {
        PlanProvider plans = new(_plans, _stall);
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(_time);
        services.AddSingleton<ITenantLimitProvider>(plans);
        services.AddEmailGuard()
            .AddSendGuard(o =>
            {
                o.StateRefreshInterval = s_refresh;
                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
                foreach (RateLimitRule rule in defaults is [] ? [RateLimitRule.PerHour(1_000)] : defaults)
                {
                    o.Tenant.Add(rule);
                }

            })
            .AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = _prefix;

                // The counters' windows follow the test's clock (06:30, moved by seconds), not the server's: on the
                // server's, a run across the top of an hour counted its first checks in one hour and the rest in the next.
                o.UseServerTime = false;
            });
        ServiceProvider provider = services.BuildServiceProvider();
        foreach (IHostedService hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        await provider.GetRequiredService<GuardStateCache>().StartRefresh();
        return (provider, plans);
    }

    /// <summary>One instance's view of the shared plans table: the hourly cap of each tenant, and how often it was asked.</summary>
    private sealed class PlanProvider(ConcurrentDictionary<string, long> plans, PlansDatabase database) : ITenantLimitProvider
    {
        private readonly ConcurrentDictionary<string, int> _lookups = new(StringComparer.Ordinal);

        public int Lookups(string tenantId) => _lookups.GetValueOrDefault(tenantId);

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            _lookups.AddOrUpdate(tenantId, 1, static (_, n) => n + 1);
            await database.WaitAsync();
            return plans.TryGetValue(tenantId, out long perHour) ? new TenantLimits { Rules = [RateLimitRule.PerHour(perHour)] } : null;
        }
    }

    /// <summary>The plans database both instances query: up, hung until released, or failing.</summary>
    private sealed class PlansDatabase
    {
        private TaskCompletionSource? _gate;
        private bool _failing;

        public bool Hung => _gate is { Task.IsCompleted: false };

        public void Set(bool hangs)
        {
            _failing = !hangs;
            _gate = hangs ? new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        }

        public void Release()
        {
            _failing = false;
            _gate?.TrySetResult();
        }

        public async ValueTask WaitAsync()
        {
            if (_gate is { } gate)
            {
                await gate.Task;
            }

            if (_failing)
            {
                throw new InvalidOperationException("The plans database is down (test).");
            }
        }
    }
}
