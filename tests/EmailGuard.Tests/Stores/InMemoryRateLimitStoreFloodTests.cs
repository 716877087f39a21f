using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>Runs alone, so that the heap it measures is its own.</summary>
[CollectionDefinition(nameof(InMemoryRateLimitStoreFloodTests), DisableParallelization = true)]
public sealed class InMemoryRateLimitStoreFloodCollection;

/// <summary>
/// The attack the cap exists for: a million distinct keys (random IPs or recipients) against the default cap of
/// 100,000 tracked keys, in one window.
/// </summary>
[Collection(nameof(InMemoryRateLimitStoreFloodTests))]
public sealed class InMemoryRateLimitStoreFloodTests
{
    private const int Cap = 100_000;
    private const int Flood = 1_000_000;
    private const int Legitimate = 1_000;

    // The sliding window, whose overflow sketch is three times the size, runs the same flood in the benchmark harness
    // ("measure memory"); here it would double the runtime.
    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    public void Acquire_MillionDistinctKeysAgainstCap_LegitimateKeysAdmittedVictimIntactHeapFlat(RateLimitAlgorithm algorithm)
    {
        // Arrange: a victim spends its quota; the flood fills the table, then the heap is measured as the baseline.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero));
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = Cap, SweepInterval = TimeSpan.FromDays(1) }, time);
        RateLimitRule rule = new(5, TimeSpan.FromHours(1), algorithm);
        RateLimitRequest[] request = new RateLimitRequest[1];
        RateLimitEntry[] result = new RateLimitEntry[1];
        Acquire(store, request, result, "victim", rule, times: 5).Should().Be(5);
        int admitted = FloodRange(store, request, rule, 0, Cap);
        long baseline = GC.GetTotalMemory(forceFullCollection: true);

        // Act
        admitted += FloodRange(store, request, rule, Cap, Flood);
        long afterFlood = GC.GetTotalMemory(forceFullCollection: true);
        int victimAdmitted = Acquire(store, request, result, "victim", rule, times: 1);
        RateLimitEntry victim = result[0];
        int legitimateAdmitted = 0;
        int legitimateOverLimit = 0;
        for (int i = 0; i < Legitimate; i++)
        {
            legitimateAdmitted += Acquire(store, request, result, $"user-{i}@example.com", rule, times: 2);
            legitimateOverLimit += Acquire(store, request, result, $"user-{i}@example.com", rule, times: 10);
        }

        // Assert
        store.TrackedKeys.Should().Be(Cap);
        admitted.Should().BeGreaterThan(Flood * 99 / 100, "a flood costs precision, not availability");
        victimAdmitted.Should().Be(0, "the flood must not reset or evict a counter that is still limiting");
        victim.Count.Should().Be(5);
        legitimateAdmitted.Should().BeGreaterThan(2 * Legitimate * 99 / 100, "new keys under their limits are still admitted");
        (legitimateAdmitted + legitimateOverLimit).Should().BeLessThanOrEqualTo(5 * Legitimate, "no key ever passes its limit");
        afterFlood.Should().BeLessThan(
            2 * baseline,
            $"900,000 more keys must not grow the heap (baseline {baseline / 1_000_000} MB with {Cap:N0} counters, after the flood {afterFlood / 1_000_000} MB)");
        GC.KeepAlive(store);
    }

    private static int FloodRange(InMemoryRateLimitStore store, RateLimitRequest[] request, RateLimitRule rule, int from, int to)
    {
        int admitted = 0;
        for (int i = from; i < to; i++)
        {
            request[0] = new RateLimitRequest($"rcpt:{i:x8}{i * 2654435761L:x8}", rule);
            admitted += store.AcquireAsync(request, default).Result.IsAllowed ? 1 : 0;
        }

        request[0] = default;
        return admitted;
    }

    private static int Acquire(InMemoryRateLimitStore store, RateLimitRequest[] request, RateLimitEntry[] result, string key, RateLimitRule rule, int times)
    {
        int admitted = 0;
        request[0] = new RateLimitRequest(key, rule);
        for (int i = 0; i < times; i++)
        {
            admitted += store.AcquireAsync(request, result).Result.IsAllowed ? 1 : 0;
        }

        request[0] = default;
        return admitted;
    }
}
