using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;

namespace EmailGuard.Benchmarks;

/// <summary>
/// A reservation next to an acquire on the in-memory store, for the store alone and through the send guard (with
/// feedback registered, as <c>AddEmailGuard()</c> does, so each admitted send is also counted). The
/// provider's bucket refills a permit every microsecond with a burst of one, so every reservation waits (about a
/// millisecond) and takes the reserve path, while the window rules stay out of reach.
/// </summary>
[MemoryDiagnoser]
public class ReservationBenchmarks
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(5);

    private readonly RateLimitEntry[] _results = new RateLimitEntry[2];
    private InMemoryRateLimitStore _store = null!;
    private RateLimitRequest[] _acquire = [];
    private RateLimitRequest[] _reserve = [];
    private EmailSendGuard _checkGuard = null!;
    private EmailSendGuard _reserveGuard = null!;
    private OutboundEmail _message = null!;

    [GlobalSetup]
    public void Setup()
    {
        RateLimitRule window = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        RateLimitRule bucket = RateLimitRule.TokenBucket(1_000_000, TimeSpan.FromSeconds(1), 1);
        _store = new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        _acquire = [new("tenant:acme", window), new("account", window)];
        _reserve = [new("provider", bucket), new("account", window)];
        _message = new OutboundEmail { To = ["customer@example.com"], Sender = "noreply@app.example", TenantId = "acme", UserId = "user-42" };
        _checkGuard = Guard(window, window);
        _reserveGuard = Guard(bucket, window);
        _ = StoreAcquire();
        _ = StoreReserve();
        _ = GuardCheck();
        _ = GuardReserve();
        if (!StoreReserve().IsAllowed || !GuardCheck().IsAllowed || GuardReserve() is not { IsAllowed: true, Attribution: not null })
        {
            throw new InvalidOperationException("Every benchmarked call must be admitted.");
        }
    }

    /// <summary>Fails the run when a reservation was denied during it (its wait grew past the maximum): the figures would be a denial's.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        if (!StoreReserve().IsAllowed || !GuardReserve().IsAllowed)
        {
            throw new InvalidOperationException("A reservation was denied during the run.");
        }
    }

    /// <summary>Two window counters taken now.</summary>
    [Benchmark(Baseline = true)]
    public RateLimitDecision StoreAcquire() => _store.AcquireAsync(_acquire, _results).Result;

    /// <summary>A bucket that must wait and a window counter, reserved at the bucket's next slot.</summary>
    [Benchmark]
    public RateLimitDecision StoreReserve() => _store.ReserveAsync(_reserve, MaxWait, _results).Result;

    /// <summary>A full check: global, tenant, sender, user, recipient and domain rules.</summary>
    [Benchmark]
    public EmailSendDecision GuardCheck() => _checkGuard.CheckAsync(_message).Result;

    /// <summary>The same message reserved, with the provider's bucket as the global rule.</summary>
    [Benchmark]
    public EmailSendDecision GuardReserve() => _reserveGuard.ReserveAsync(_message).Result;

    private static EmailSendGuard Guard(RateLimitRule global, RateLimitRule window)
        => BenchmarkGuards.Create(
            BenchmarkGuards.SixParties(global, window, new SendGuardOptions { MaxReservationWait = MaxWait }),
            new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), TimeProvider.System),
            countSends: true);
}
