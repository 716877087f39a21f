using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A send guard whose tenant limits come from an <see cref="ITenantLimitProvider"/>, cached for a minute, on a fake
/// clock, with a store timeout (<see cref="Timeout"/>) that a test passes by advancing the clock.
/// </summary>
internal sealed class ProviderBackedGuard : IAsyncDisposable
{
    /// <summary>How long a check waits for the provider before the fallback rules apply.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(250);

    private ProviderBackedGuard(ServiceProvider services, FakeTimeProvider time, FakeLogCollector logs)
    {
        Services = services;
        Time = time;
        Logs = logs;
        Guard = services.GetRequiredService<IEmailSendGuard>();
    }

    public ServiceProvider Services { get; }

    public FakeTimeProvider Time { get; }

    public IEmailSendGuard Guard { get; }

    /// <summary>What the guard logged.</summary>
    public FakeLogCollector Logs { get; }

    /// <summary>Starts a guard over <paramref name="provider"/> with <paramref name="defaults"/> as its default tenant rules.</summary>
    public static ProviderBackedGuard Start(ITenantLimitProvider provider, params RateLimitRule[] defaults)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        FakeLogCollector logs = new();
        ServiceProvider services = SendGuardTestServices.Build(
            o =>
            {
                foreach (RateLimitRule rule in defaults)
                {
                    o.Tenant.Add(rule);
                }

                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
            },
            time: time,
            more: s =>
            {
                s.AddSingleton(provider);
                s.Configure<StoreResilienceOptions>(o => o.Timeout = Timeout);
            },
            logs: logs);
        return new ProviderBackedGuard(services, time, logs);
    }

    /// <summary>Waits (on the real clock, bounded) until the provider's answer for a tenant is in the cache.</summary>
    public async Task WhenCachedAsync(string tenantId)
    {
        TenantLimitCache cache = Services.GetRequiredService<EmailSendGuard>().TenantLimits;
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!cache.GetAsync(tenantId, [], default).IsCompleted)
        {
            System.Diagnostics.Stopwatch.GetElapsedTime(started).Should().BeLessThan(TimeSpan.FromSeconds(30));
            await Task.Yield();
        }
    }

    public ValueTask DisposeAsync() => Services.DisposeAsync();
}
