using System.Globalization;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Waits on a resilient store over a real Redis, bounded, instead of assuming how fast a shared machine is: until its
/// lazy connection answers, and until what it does by itself after an outage (write-backs of local admits, give-backs
/// of late admissions) has ended, so that the counts read afterwards are final.
/// </summary>
internal static class ResilientStoreWaits
{
    /// <summary>Waits until the instance's lazy connection answers, so no connect time counts against the test's calls.</summary>
    public static async Task ConnectedAsync(ResilientRateLimitStore store)
    {
        using CancellationTokenSource giveUp = new(TimeSpan.FromSeconds(30));
        RateLimitRequest[] probe = [new("connected", RateLimitRule.PerDay(1_000_000))];
        while ((await store.AcquireAsync(probe, default, StoreFailureMode.FailClosed)).Status != RateLimitStatus.Allowed)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, giveUp.Token);
        }
    }

    /// <summary>
    /// Waits until nothing the store does changes a count any more: the write-back of local admits done, and every late
    /// admission given back. A write-back that timed out while Redis worked through the scripts it held (a loaded
    /// machine) stays pending and goes again after the next decision of the store under the local fallback, so this
    /// waits for write-backs until none is pending, making such a decision on a counter of its own between rounds.
    /// </summary>
    public static async Task SettledAsync(ResilientRateLimitStore store, TimeSpan bound)
    {
        for (int round = 0; ; round++)
        {
            await store.WriteBack.WaitAsync(bound);
            await store.CancelledCallsSettledAsync().WaitAsync(bound);
            await ((RedisRateLimitStore)store.Store).SettledAsync().WaitAsync(bound);
            if (!store.Local.HasPendingWriteBacks)
            {
                return;
            }

            round.Should().BeLessThan(100, "Redis runs, so the write-back of the local admits ends");
            RateLimitRequest[] settle = [new(string.Create(CultureInfo.InvariantCulture, $"settle-{round}"), RateLimitRule.PerDay(1_000_000))];
            await store.AcquireAsync(settle, default, StoreFailureMode.LocalFallback);
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
        }
    }
}
