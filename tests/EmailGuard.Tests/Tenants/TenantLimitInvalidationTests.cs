using System.Collections.Concurrent;
using EmailGuard.Testing.Stores;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// <see cref="IEmailGuardTenantLimits"/> on one instance: the operator cut or raised a tenant's plan, and the next check
/// must not be answered from the cached limits. Other instances: RedisTenantLimitInvalidationTests.
/// </summary>
public sealed class TenantLimitInvalidationTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task InvalidateAsync_NextCheckWaitsForTheProvider_TheCutCapAppliesToIt()
    {
        PlanProvider provider = new();
        provider.Plans["abuser"] = RateLimitRule.PerHour(100);
        (ServiceProvider sp, _) = Build(provider);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = Mail("abuser");
        (await guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        provider.Plans["abuser"] = RateLimitRule.PerHour(1);
        provider.Hold();

        await sp.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("abuser");
        Task<EmailSendDecision> check = guard.CheckAsync(mail).AsTask();
        Task<EmailSendDecision> concurrent = guard.CheckAsync(mail).AsTask();
        bool servedBeforeTheAnswer = check.IsCompleted || concurrent.IsCompleted;
        provider.Release();
        EmailSendDecision[] decisions = await Task.WhenAll(check, concurrent).WaitAsync(TimeSpan.FromSeconds(30));

        servedBeforeTheAnswer.Should().BeFalse("the cached 100 an hour must not serve while the new answer loads, although it is a few seconds old");
        decisions.Should().OnlyContain(d => d.Reason == EmailSendReason.LimitExceeded && d.Dimension == EmailGuardDimension.Tenant, "the cut cap (1 an hour, 1 used)");
        provider.Lookups("abuser").Should().Be(2, "the two checks after the invalidation share one lookup");
    }

    [Fact]
    public async Task InvalidateAsync_ProviderFails_TheLastAnswerStays_AsAtAnyLookup()
    {
        PlanProvider provider = new();
        provider.Plans["acme"] = RateLimitRule.PerHour(1);
        (ServiceProvider sp, _) = Build(provider);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(Mail("acme"))).IsAllowed.Should().BeTrue();
        provider.Failing = true;

        await sp.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        EmailSendDecision decision = await guard.CheckAsync(Mail("acme"));

        provider.Lookups("acme").Should().Be(2, "the check after the invalidation asked the provider");
        decision.Reason.Should().Be(EmailSendReason.LimitExceeded, "a failed lookup keeps the last answer (1 an hour), not the laxer defaults (3 an hour)");
    }

    [Fact]
    public async Task InvalidateAsync_OneTenant_LeavesTheOthersCachedAnswers_AndInvalidateAll_DropsEvery()
    {
        PlanProvider provider = new();
        provider.Plans["acme"] = RateLimitRule.PerHour(10);
        provider.Plans["globex"] = RateLimitRule.PerHour(10);
        (ServiceProvider sp, _) = Build(provider);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        IEmailGuardTenantLimits limits = sp.GetRequiredService<IEmailGuardTenantLimits>();
        await guard.CheckAsync(Mail("acme"));
        await guard.CheckAsync(Mail("globex"));

        await limits.InvalidateAsync("acme");
        await guard.CheckAsync(Mail("acme"));
        await guard.CheckAsync(Mail("globex"));
        int[] afterOne = [provider.Lookups("acme"), provider.Lookups("globex")];
        await limits.InvalidateAllAsync();
        await guard.CheckAsync(Mail("acme"));
        await guard.CheckAsync(Mail("globex"));

        afterOne.Should().Equal([2, 1], "only the tenant invalidated is asked again");
        provider.Lookups("acme").Should().Be(3);
        provider.Lookups("globex").Should().Be(2);
    }

    [Fact]
    public async Task InvalidateAsync_StateStoreThatDoesNotRecordIt_AppliesOnThisInstance_AndWarns()
    {
        PlanProvider provider = new();
        provider.Plans["acme"] = RateLimitRule.PerHour(10);
        FakeLogCollector logs = new();
        (ServiceProvider sp, _) = Build(provider, logs, s => s.AddSingleton<IEmailGuardStateStore>(
            sp => new OldStateStore(new InMemoryEmailGuardStateStore(sp.GetRequiredService<TimeProvider>()))));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(Mail("acme"));

        await sp.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        await guard.CheckAsync(Mail("acme"));

        provider.Lookups("acme").Should().Be(2);
        logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2998).Which.Level.Should().Be(LogLevel.Warning);
    }

    [Fact]
    public async Task InvalidateAsync_OnAStoreThatReportsNoChanges_TheOtherInstanceLooksTheTenantUpAgainAfterItsWholeLoad()
    {
        // Two instances on one store that records the change but cannot say what changed: the other instance loads the
        // state whole, cannot tell which tenant changed, and looks every tenant up again.
        PlanProvider plansA = new();
        PlanProvider plansB = new(plansA.Plans);
        plansA.Plans["acme"] = RateLimitRule.PerHour(100);
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        NoChangesStateStore shared = new(new InMemoryEmailGuardStateStore(time));
        (ServiceProvider a, _) = Build(plansA, time: time, more: s => s.AddSingleton<IEmailGuardStateStore>(shared));
        (ServiceProvider b, _) = Build(plansB, time: time, more: s => s.AddSingleton<IEmailGuardStateStore>(shared));
        await using ServiceProvider ownedA = a;
        await using ServiceProvider ownedB = b;
        IEmailSendGuard guardB = b.GetRequiredService<IEmailSendGuard>();
        (await guardB.CheckAsync(Mail("acme"))).IsAllowed.Should().BeTrue();
        plansA.Plans["acme"] = RateLimitRule.PerHour(3);

        await a.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAsync("acme");
        int admitted = 0;
        for (int i = 0; i < 5; i++)
        {
            admitted += (await guardB.CheckAsync(Mail("acme"))).IsAllowed ? 1 : 0;
        }

        plansB.Lookups("acme").Should().Be(2);
        admitted.Should().Be(2, "B's own counter: 3 an hour, 1 used");
    }

    [Fact]
    public async Task Startup_CacheDurationShorterThanTheTimeoutWithAProvider_FailsNamingTheSetting_WithoutOne_Starts()
    {
        PlanProvider provider = new();
        await using ServiceProvider withProvider = SendGuardTestServices.Build(
            o => o.TenantLimitCacheDuration = TimeSpan.Zero,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        await using ServiceProvider without = SendGuardTestServices.Build(o => o.TenantLimitCacheDuration = TimeSpan.Zero);

        Action start = () => withProvider.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Failures.Should().ContainSingle().Which.Should().StartWith(
            "EmailGuard:SendGuard:TenantLimitCacheDuration must be at least EmailGuard:Resilience:Timeout (00:00:00.2500000) when a tenant limit provider is registered; it is 00:00:00.");
        without.GetRequiredService<IStartupValidator>().Validate();
    }

    private static OutboundEmail Mail(string tenant) => new() { To = ["a@example.com"], TenantId = tenant };

    private static (ServiceProvider Services, FakeTimeProvider Time) Build(
        PlanProvider provider, FakeLogCollector? logs = null, Action<IServiceCollection>? more = null, FakeTimeProvider? time = null)
    {
        time ??= new(SendGuardTestServices.Start);
        ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(3));
                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
            },
            time: time,
            logs: logs,
            more: s =>
            {
                s.AddSingleton<ITenantLimitProvider>(provider);
                s.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
                more?.Invoke(s);
            });
        return (sp, time);
    }

    /// <summary>A state store written before <see cref="IEmailGuardStateStore.RecordTenantLimitsChangeAsync"/>: it keeps the default.</summary>
    private sealed class OldStateStore(IEmailGuardStateStore inner) : ForwardingStateStore(inner)
    {
        public override ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken) => new(false);
    }

    /// <summary>A state store that records changes of tenant limits but reports no changes: every version change is a whole load.</summary>
    private sealed class NoChangesStateStore(IEmailGuardStateStore inner) : ForwardingStateStore(inner)
    {
        public override ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken) => new((EmailGuardStateChanges?)null);
    }

    /// <summary>The app's plans table: each tenant's hourly cap, held (answered once released) or failing on demand.</summary>
    private sealed class PlanProvider(ConcurrentDictionary<string, RateLimitRule>? plans = null) : ITenantLimitProvider
    {
        private readonly ConcurrentDictionary<string, int> _lookups = new(StringComparer.Ordinal);
        private TaskCompletionSource? _gate;

        public ConcurrentDictionary<string, RateLimitRule> Plans { get; } = plans ?? new(StringComparer.Ordinal);

        public bool Failing { get; set; }

        public int Lookups(string tenantId) => _lookups.GetValueOrDefault(tenantId);

        public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _gate?.TrySetResult();

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            _lookups.AddOrUpdate(tenantId, 1, static (_, n) => n + 1);
            if (_gate is { } gate)
            {
                await gate.Task;
            }

            if (Failing)
            {
                throw new InvalidOperationException("The plans database is down (test).");
            }

            return Plans.TryGetValue(tenantId, out RateLimitRule? rule) ? new TenantLimits { Rules = [rule] } : null;
        }
    }
}
