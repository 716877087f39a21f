using System.Collections.Concurrent;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// <see cref="IEmailGuardTenantLimits.InvalidateAllAsync"/> over many active tenants: every tenant's next check starts a
/// lookup, and at most <see cref="SendGuardOptions.TenantLimitLookupConcurrency"/> of them ask the provider at once.
/// </summary>
public sealed class TenantLimitLookupConcurrencyTests
{
    private const int Tenants = 1_000;
    private const int Concurrency = 8;
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task InvalidateAll_ThousandTenantsCheckedAtOnce_LookupsNeverExceedTheSetting_ChecksAnswerAtTheTimeout_ThenExact()
    {
        // Arrange: every tenant on a plan of 5 an hour (defaults 1,000), one mail each.
        CountingProvider provider = new(RateLimitRule.PerHour(5));
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(1_000));
                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
                o.TenantLimitLookupConcurrency = Concurrency;
            },
            time: time,
            more: s =>
            {
                s.AddSingleton<ITenantLimitProvider>(provider);
                s.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
            });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        string[] tenants = [.. Enumerable.Range(0, Tenants).Select(i => $"t{i}")];
        foreach (string tenant in tenants)
        {
            (await guard.CheckAsync(Mail(tenant))).IsAllowed.Should().BeTrue();
        }

        // Act: a new price list (4 an hour) while the database is slow; two checks of every tenant at once.
        provider.Hold();
        provider.Rules = [RateLimitRule.PerHour(4)];
        await sp.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAllAsync();
        Task<EmailSendDecision>[] checks = [.. tenants.SelectMany(t => new[] { guard.CheckAsync(Mail(t)).AsTask(), guard.CheckAsync(Mail(t)).AsTask() })];
        bool anyBeforeTheTimeout = checks.Any(c => c.IsCompleted);
        int runningWhileHeld = provider.Running;
        time.Advance(s_timeout);
        EmailSendDecision[] atTheTimeout = await Task.WhenAll(checks).WaitAsync(TimeSpan.FromSeconds(60));
        provider.Release();
        await WhenAnsweredAsync(sp, tenants);
        int[] admittedAfter = new int[Tenants];
        for (int i = 0; i < Tenants; i++)
        {
            admittedAfter[i] = ((await guard.CheckAsync(Mail(tenants[i]))).IsAllowed ? 1 : 0) + ((await guard.CheckAsync(Mail(tenants[i]))).IsAllowed ? 1 : 0);
        }

        // Assert
        anyBeforeTheTimeout.Should().BeFalse("every check waits for its tenant's lookup, queued or running");
        runningWhileHeld.Should().Be(Concurrency, "the first lookups took every slot; the others queue");
        atTheTimeout.Should().OnlyContain(d => d.IsAllowed, "after one timeout every check answered, by the stricter of 5 an hour and the defaults, 3 used");
        provider.MaxRunning.Should().Be(Concurrency, "never more lookups at once than the setting, before or after the provider answered");
        provider.Lookups.Should().HaveCount(Tenants).And.OnlyContain(p => p.Value == 2, "one lookup before and one after the invalidation per tenant: its two checks shared it");
        admittedAfter.Should().OnlyContain(n => n == 1, "the new plan (4 an hour, 3 used) applies exactly once answered");
    }

    [Fact]
    public async Task ProviderThatChecksAMailForAnotherTenant_EverySlotHeld_DoesNotWaitForASlotItsOwnLookupHolds()
    {
        // Arrange: one slot; the provider checks a mail through the guard for a tenant of its own while it looks one up,
        // and blocks on it (as SendGuardHostileCallbackTests' provider does); a clock that never moves, so no timeout
        // ends a wait.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        NestingProvider provider = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(1_000));
                o.TenantLimitLookupConcurrency = 1;
            },
            time: time,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        provider.Guard = guard;

        // Act: the check's lookup takes the one slot, and its provider's check needs a lookup of its own.
        EmailSendDecision decision = await Task.Run(async () => await guard.CheckAsync(Mail("outer"))).WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        decision.IsAllowed.Should().BeTrue();
        provider.NestedAllowed.Should().BeTrue("the provider's own check was looked up outside the slot its caller holds");
    }

    [Fact]
    public async Task Lookup_HungForALifetime_GivesUpItsSlot_SoOtherTenantsAreLookedUp()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        CountingProvider provider = new(RateLimitRule.PerHour(5));
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time, timeout: s_timeout, lookupConcurrency: 1);
        provider.Hold();
        ValueTask<RateLimitRule[]> hung = cache.GetAsync("hung", [], default);
        ValueTask<RateLimitRule[]> queued = cache.GetAsync("queued", [], default);
        int beforeALifetime = provider.Running;

        time.Advance(TimeSpan.FromMinutes(1));
        await WhenAsync(() => provider.Running == 2);
        provider.Release();
        await hung.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await queued.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        beforeALifetime.Should().Be(1);
        provider.MaxRunning.Should().Be(2, "the hung lookup stopped counting after a lifetime, and the queued one ran");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    public async Task StartupValidation_LookupConcurrencyNotPositive_FailsNamingTheSetting(string value)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(
            configuration: new Dictionary<string, string?> { ["EmailGuard:SendGuard:TenantLimitLookupConcurrency"] = value });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should()
            .Contain($"EmailGuard:SendGuard:TenantLimitLookupConcurrency must be between 1 and 10000; it is {value}.");
    }

    [Fact]
    public void Options_LookupConcurrency_DefaultsTo16() => new SendGuardOptions().TenantLimitLookupConcurrency.Should().Be(16);

    private static async Task WhenAnsweredAsync(ServiceProvider sp, string[] tenants)
    {
        TenantLimitCache cache = sp.GetRequiredService<EmailSendGuard>().TenantLimits;
        await WhenAsync(() => tenants.All(t => cache.GetAsync(t, [], default).IsCompleted));
    }

    /// <summary>Waits (on the real clock, bounded) until <paramref name="condition"/> holds.</summary>
    private static async Task WhenAsync(Func<bool> condition)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!condition())
        {
            System.Diagnostics.Stopwatch.GetElapsedTime(started).Should().BeLessThan(TimeSpan.FromSeconds(60));
            await Task.Delay(1);
        }
    }

    private static OutboundEmail Mail(string tenant) => new() { To = ["a@example.com"], TenantId = tenant };

    /// <summary>A provider that checks a mail through the guard, for a tenant of its own, inside every outer lookup, and blocks on it.</summary>
    private sealed class NestingProvider : ITenantLimitProvider
    {
        public IEmailSendGuard? Guard { get; set; }

        public bool NestedAllowed { get; private set; }

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            if (!tenantId.StartsWith("nested", StringComparison.Ordinal))
            {
                NestedAllowed = Guard!.CheckAsync(Mail("nested-" + tenantId)).AsTask().GetAwaiter().GetResult().IsAllowed;
            }

            return ValueTask.FromResult<TenantLimits?>(null);
        }
    }

    /// <summary>Answers its rules, asynchronously, held while the test holds it; counts the lookups running at once.</summary>
    private sealed class CountingProvider(params RateLimitRule[] rules) : ITenantLimitProvider
    {
        private TaskCompletionSource? _gate;
        private int _running;
        private int _maxRunning;

        public RateLimitRule[] Rules { get; set; } = rules;

        public ConcurrentDictionary<string, int> Lookups { get; } = new(StringComparer.Ordinal);

        public int Running => Volatile.Read(ref _running);

        public int MaxRunning => Volatile.Read(ref _maxRunning);

        public void Hold() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _gate?.TrySetResult();

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            Lookups.AddOrUpdate(tenantId, 1, static (_, n) => n + 1);
            int running = Interlocked.Increment(ref _running);
            int max;
            while (running > (max = Volatile.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, running, max) != max)
            {
            }

            try
            {
                if (_gate is { } gate)
                {
                    await gate.Task;
                }

                // Answers off the caller's stack, as a database does, so that released lookups overlap.
                await Task.Yield();
                return new TenantLimits { Rules = Rules };
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }
}
