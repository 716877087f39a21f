using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>The local fallback is an in-memory store too: full, it still decides new keys, within their limits.</summary>
public sealed class LocalFallbackCapacityTests
{
    [Fact]
    public async Task AcquireAsync_LocalFallbackFull_NewKeysStillDecidedWithinTheirLimitsAndReported()
    {
        // Arrange: the store is down, so every call goes to a local fallback that tracks at most 10 keys.
        using ResilienceHarness harness = new();
        using MetricCollector<long> overflow = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.OverflowDecisionsInstrument);
        ResilientRateLimitStore resilient = new(
            harness.Store, harness.Options, harness.Time, harness.Logger, harness.Metrics, new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 10 });
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        RateLimitRule rule = RateLimitRule.PerHour(3);

        // Act
        int floodAdmitted = 0;
        for (int i = 0; i < 100; i++)
        {
            floodAdmitted += (await resilient.AcquireAsync(ResilienceHarness.One($"flood-{i}", rule), default, StoreFailureMode.LocalFallback)).IsAllowed ? 1 : 0;
        }

        int lateAdmitted = 0;
        for (int i = 0; i < 5; i++)
        {
            lateAdmitted += (await resilient.AcquireAsync(ResilienceHarness.One("late-comer", rule), default, StoreFailureMode.LocalFallback)).IsAllowed ? 1 : 0;
        }

        // Assert
        resilient.LocalStore.TrackedKeys.Should().Be(10);
        floodAdmitted.Should().Be(100);
        lateAdmitted.Should().BeInRange(1, 3, "a new key is decided, never locked out, and never passes its limit");
        overflow.GetMeasurementSnapshot().Should().NotBeEmpty()
            .And.OnlyContain(m => m.Tags["emailguard.store.name"]!.Equals("local_fallback"));
        harness.EventIds().Should().ContainSingle(id => id == 1200);
    }

    [Fact]
    public async Task AcquireAsync_TallyOnAFullLocalFallbackOfTwoInstances_NeverShareLimitedNorOverCounted()
    {
        // Arrange: the store is down; the local fallback of one of 2 instances holds one counter, and a flood of new keys
        // under a bucket of 10 an hour has filled its overflow sketch.
        using ResilienceHarness harness = new(o => o.InstanceCount = 2);
        ResilientRateLimitStore resilient = new(
            harness.Store, harness.Options, harness.Time, harness.Logger, harness.Metrics, new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 1 });
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 10);
        int deniedInARow = 0;
        for (int i = 0; deniedInARow < 200 && i < 100_000; i++)
        {
            RateLimitDecision flood = await resilient.AcquireAsync(ResilienceHarness.One($"flood-{i}", rule, 5), default, StoreFailureMode.LocalFallback);
            deniedInARow = flood.IsAllowed ? 0 : deniedInARow + 1;
        }

        RateLimitRule tally = RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 5).WithBurstAtSameRate(10).AsTally();

        // Act
        int admitted = 0;
        for (int i = 0; i < 6; i++)
        {
            admitted += (await resilient.AcquireAsync(ResilienceHarness.One("own", tally), default, StoreFailureMode.LocalFallback)).IsAllowed ? 1 : 0;
        }

        // Assert
        deniedInARow.Should().Be(200, "the flood filled the sketch");
        admitted.Should().Be(6, "a tally never denies: not as a share of 5 of its 10, nor from the sketch's cells the flood filled");
    }
}
