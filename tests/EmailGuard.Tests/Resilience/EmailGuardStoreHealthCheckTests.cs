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
    {
        EmailGuardStoreHealthCheck check = new(harness.Resilient);
        HealthCheckContext context = new()
        {
            Registration = new HealthCheckRegistration("store", check, failureStatus, null),
        };
        return check.CheckHealthAsync(context);
    }
}
