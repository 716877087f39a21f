using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.Tests.Resilience;

public sealed class EmailGuardMetricsTests
{
    [Fact]
    public async Task StoreDuration_SuccessfulCall_RecordedWithTheOperation()
    {
        using ResilienceHarness harness = new();
        using MetricCollector<double> duration = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.StoreDurationInstrument);

        await harness.AcquireAsync("a");

        duration.GetMeasurementSnapshot().Should().ContainSingle()
            .Which.Tags.Should().Contain("emailguard.store.operation", "acquire").And.NotContainKey("error.type");
    }

    [Fact]
    public async Task StoreErrors_FailedAndTimedOutCalls_CountedWithErrorType()
    {
        using ResilienceHarness harness = new();
        using MetricCollector<long> errors = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.StoreErrorsInstrument);

        await harness.FailAsync(1);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        Task<RateLimitDecision> call = harness.AcquireAsync("slow").AsTask();
        harness.Time.Advance(harness.Options.Timeout);
        await call.WaitAsync(TimeSpan.FromSeconds(30));
        harness.Store.ReleaseHanging();

        errors.GetMeasurementSnapshot().Select(m => m.Tags["error.type"]).Should()
            .Equal(typeof(InvalidOperationException).FullName, "timeout");
    }

    [Fact]
    public async Task StoreFallbacks_CallsAnsweredByTheFailureMode_CountedByModeAndReason()
    {
        using ResilienceHarness harness = new();
        using MetricCollector<long> fallbacks = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.StoreFallbacksInstrument);

        await harness.FailAsync(3);
        await harness.AcquireAsync("a", StoreFailureMode.LocalFallback);

        IReadOnlyList<CollectedMeasurement<long>> snapshot = fallbacks.GetMeasurementSnapshot();
        snapshot.Should().HaveCount(4);
        snapshot.Take(3).Should().OnlyContain(m => (string?)m.Tags["emailguard.failure_mode"] == "fail_open" && (string?)m.Tags["emailguard.reason"] == "store_failure");
        snapshot[3].Tags["emailguard.failure_mode"].Should().Be("local_fallback");
        snapshot[3].Tags["emailguard.reason"].Should().Be("circuit_open");
    }

    [Fact]
    public async Task BreakerState_Observed_ReportsTheCircuit()
    {
        using ResilienceHarness harness = new();
        using MetricCollector<int> state = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.BreakerStateInstrument);

        state.RecordObservableInstruments();
        int closed = state.LastMeasurement!.Value;
        await harness.FailAsync(3);
        state.RecordObservableInstruments();
        int open = state.LastMeasurement!.Value;

        closed.Should().Be(0);
        open.Should().Be(2);
    }

    [Fact]
    public void RecordDecision_WithListener_CountsByDimensionPolicyAndOutcome()
    {
        using ResilienceHarness harness = new();
        using MetricCollector<long> decisions = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.DecisionsInstrument);

        harness.Metrics.RecordDecision("recipient", "send", RateLimitStatus.LimitExceeded);
        harness.Metrics.RecordDecision("ip", null, "blocked");

        IReadOnlyList<CollectedMeasurement<long>> snapshot = decisions.GetMeasurementSnapshot();
        snapshot[0].Tags.Should().Contain("emailguard.dimension", "recipient")
            .And.Contain("emailguard.policy", "send")
            .And.Contain("emailguard.outcome", "limit_exceeded");
        snapshot[1].Tags.Should().Contain("emailguard.outcome", "blocked").And.NotContainKey("emailguard.policy");
    }

    [Fact]
    public void RecordDecision_NoListener_RecordsNothingAndDoesNotThrow()
    {
        using ResilienceHarness harness = new();

        harness.Metrics.RecordDecision("recipient", "send", RateLimitStatus.Allowed);

        using MetricCollector<long> decisions = new(harness.MeterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.DecisionsInstrument);
        decisions.GetMeasurementSnapshot().Should().BeEmpty();
    }
}
