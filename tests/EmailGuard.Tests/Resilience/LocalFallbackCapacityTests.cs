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
}
