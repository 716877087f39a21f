using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EmailGuard.Tests.Resilience;

public sealed class EmailGuardStoreHealthCheckTests
{
    [Fact]
    public async Task CheckHealthAsync_CircuitClosed_Healthy()
    {
        using ResilienceHarness harness = new();

        HealthCheckResult result = await CheckAsync(harness, HealthStatus.Unhealthy);

        result.Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task CheckHealthAsync_CircuitOpen_ReportsTheFailureStatus()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);

        HealthCheckResult unhealthy = await CheckAsync(harness, HealthStatus.Unhealthy);
        HealthCheckResult degraded = await CheckAsync(harness, HealthStatus.Degraded);

        unhealthy.Status.Should().Be(HealthStatus.Unhealthy);
        unhealthy.Data["circuit"].Should().Be("Open");
        degraded.Status.Should().Be(HealthStatus.Degraded);
    }

    [Fact]
    public async Task CheckHealthAsync_CircuitHalfOpen_Degraded()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        Task<RateLimitDecision> probe = harness.AcquireAsync("probe").AsTask();

        HealthCheckResult result = await CheckAsync(harness, HealthStatus.Unhealthy);
        harness.Store.ReleaseHanging();
        await probe.WaitAsync(TimeSpan.FromSeconds(30));

        result.Status.Should().Be(HealthStatus.Degraded);
    }

    [Fact]
    public async Task CheckHealthAsync_OpenCircuitPastItsBreakOnAnIdleInstance_ProbesTheStoreSoItClosesAgain()
    {
        // Only a call probes an open circuit. A readiness check that answers 503 while it is open takes the instance out
        // of the load balancer, which then sends it no call: after the store came back it stayed open, and out, for good.
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        int callsAfterOutage = harness.Store.Calls;
        EmailGuardStoreHealthCheck check = new(harness.Resilient);

        HealthCheckResult duringBreak = await CheckAsync(check, HealthStatus.Unhealthy);
        harness.Store.Calls.Should().Be(callsAfterOutage, "the break is not over: the store is not called");
        harness.Time.Advance(harness.Options.BreakDuration);
        await CheckAsync(check, HealthStatus.Unhealthy);
        await CheckAsync(check, HealthStatus.Unhealthy);
        await check.Probe.WaitAsync(TimeSpan.FromSeconds(30));
        HealthCheckResult afterProbe = await CheckAsync(check, HealthStatus.Unhealthy);

        duringBreak.Status.Should().Be(HealthStatus.Unhealthy);
        harness.Store.Calls.Should().Be(callsAfterOutage + 1, "one probe, however often the check runs");
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
        afterProbe.Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task CheckHealthAsync_ProbeOfAStoreStillDown_ReopensTheCircuitAndTheCheckNeverWaits()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        int callsAfterOutage = harness.Store.Calls;
        EmailGuardStoreHealthCheck check = new(harness.Resilient);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Hang;

        Task<HealthCheckResult> hung = CheckAsync(check, HealthStatus.Unhealthy);
        HealthCheckResult again = await CheckAsync(check, HealthStatus.Unhealthy);
        int calls = harness.Store.Calls;
        harness.Store.ReleaseHanging(new InvalidOperationException("still down"));
        await check.Probe.WaitAsync(TimeSpan.FromSeconds(30));
        HealthCheckResult reopened = await CheckAsync(check, HealthStatus.Unhealthy);

        hung.IsCompleted.Should().BeTrue("the check reads the breaker and never waits on the store");
        (await hung).Status.Should().Be(HealthStatus.Unhealthy, "the check that starts the probe reports the open circuit it read");
        again.Status.Should().Be(HealthStatus.Degraded, "a probe is testing the store");
        calls.Should().Be(callsAfterOutage + 1, "one probe at a time");
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
        reopened.Status.Should().Be(HealthStatus.Unhealthy);
    }

    [Fact]
    public async Task AddCheck_WithoutAspNetCore_HealthCheckServiceReportsTheCircuit()
    {
        // The core package needs only the health checks abstractions; a worker host adds the check by its type.
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard();
        services.AddHealthChecks().AddCheck<EmailGuardStoreHealthCheck>("emailguard-store", tags: ["ready"]);
        await using ServiceProvider provider = services.BuildServiceProvider();

        HealthReport report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Should().ContainSingle().Which.Key.Should().Be("emailguard-store");
        report.Entries["emailguard-store"].Status.Should().Be(HealthStatus.Healthy);
        report.Entries["emailguard-store"].Tags.Should().Contain("ready");
        provider.GetRequiredService<EmailGuardStoreHealthCheck>().Should().BeSameAs(provider.GetRequiredService<EmailGuardStoreHealthCheck>());
    }

    private static Task<HealthCheckResult> CheckAsync(ResilienceHarness harness, HealthStatus failureStatus)
        => CheckAsync(new EmailGuardStoreHealthCheck(harness.Resilient), failureStatus);

    private static Task<HealthCheckResult> CheckAsync(EmailGuardStoreHealthCheck check, HealthStatus failureStatus)
    {
        HealthCheckContext context = new()
        {
            Registration = new HealthCheckRegistration("store", check, failureStatus, null),
        };
        return check.CheckHealthAsync(context);
    }
}
