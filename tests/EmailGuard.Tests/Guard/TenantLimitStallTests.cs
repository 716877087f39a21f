using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>A slow tenant limit provider (the app's database) never holds a check longer than the resilience timeout.</summary>
public sealed class TenantLimitStallTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task CheckAsync_ProviderHangs_DefaultTenantRulesApplyAtTheTimeout_ThenTheAnswerOnceItCame()
    {
        GatedProvider provider = new(RateLimitRule.PerHour(1));
        (ServiceProvider sp, FakeTimeProvider time) = Build(provider);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial" };

        Task<EmailSendDecision>[] waiting = [.. Enumerable.Range(0, 3).Select(_ => guard.CheckAsync(mail).AsTask())];
        bool anyDoneEarly = waiting.Any(c => c.IsCompleted);
        time.Advance(s_timeout);
        EmailSendDecision[] first = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(30));
        provider.Release();
        await WhenCachedAsync(sp, "trial");
        EmailSendDecision afterAnswer = await guard.CheckAsync(mail);

        anyDoneEarly.Should().BeFalse("a check with no cached answer waits for the lookup, up to the timeout");
        first.Should().OnlyContain(d => d.IsAllowed, "the defaults (3 per hour) applied while the provider was silent");
        provider.Lookups.Should().Be(1, "concurrent checks share one lookup");
        afterAnswer.Reason.Should().Be(EmailSendReason.LimitExceeded, "the tenant's own limit (1 per hour) applies once it is known");
        afterAnswer.Dimension.Should().Be(EmailGuardDimension.Tenant);
    }

    [Fact]
    public async Task CheckAsync_CachedAnswerExpiredAndProviderHangs_KeepsTheLastAnswerWithoutWaiting()
    {
        GatedProvider provider = new(RateLimitRule.PerHour(1)) { Open = true };
        (ServiceProvider sp, FakeTimeProvider time) = Build(provider);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial" };
        (await guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        provider.Open = false;

        time.Advance(TimeSpan.FromMinutes(2));
        ValueTask<EmailSendDecision> check = guard.CheckAsync(mail);

        check.IsCompleted.Should().BeTrue("an expired answer serves while the next lookup runs");
        (await check).Reason.Should().Be(EmailSendReason.LimitExceeded, "the tenant's own limit, not the laxer default, still applies");
        provider.Lookups.Should().Be(2);
    }

    /// <summary>Waits (on the real clock, bounded) until the provider's answer for a tenant is in the cache.</summary>
    private static async Task WhenCachedAsync(ServiceProvider sp, string tenantId)
    {
        TenantLimitCache cache = sp.GetRequiredService<EmailSendGuard>().TenantLimits;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!cache.GetAsync(tenantId, [], default).IsCompleted)
        {
            System.Diagnostics.Stopwatch.GetElapsedTime(started).Should().BeLessThan(TimeSpan.FromSeconds(30));
            await Task.Yield();
        }
    }

    private static (ServiceProvider Services, FakeTimeProvider Time) Build(ITenantLimitProvider provider)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(3));
                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
            },
            time: time,
            more: s =>
            {
                s.AddSingleton(provider);
                s.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
            });
        return (sp, time);
    }

    /// <summary>Answers with <c>rules</c>, but only once released (or at once while <see cref="Open"/>).</summary>
    private sealed class GatedProvider(params RateLimitRule[] rules) : ITenantLimitProvider
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _lookups;

        public bool Open { get; set; }

        public int Lookups => Volatile.Read(ref _lookups);

        public void Release() => _gate.TrySetResult();

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _lookups);
            if (!Open)
            {
                await _gate.Task;
            }

            return new TenantLimits { Rules = rules };
        }
    }
}
