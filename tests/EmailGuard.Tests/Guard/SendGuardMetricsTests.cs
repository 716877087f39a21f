using System.Diagnostics.Metrics;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

public sealed class SendGuardMetricsTests
{
    [Fact]
    public async Task Check_Decisions_AreCountedByDimensionAndOutcome()
    {
        using TestMeterFactory meterFactory = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Tenant.Add(RateLimitRule.PerHour(1)),
            more: s => s.AddSingleton<IMeterFactory>(meterFactory));
        using MetricCollector<long> decisions = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.DecisionsInstrument);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "acme" });
        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "acme" });
        await guard.CheckAsync(new OutboundEmail { To = ["not an address"], TenantId = "acme" });
        await guard.PeekAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "acme" });

        decisions.GetMeasurementSnapshot()
            .Select(m => ((string?)m.Tags["emailguard.dimension"], (string?)m.Tags["emailguard.outcome"], (string?)m.Tags["emailguard.policy"]))
            .Should().Equal(("message", "allowed", "send_guard"), ("tenant", "limit_exceeded", "send_guard"), ("recipient", "invalid_address", "send_guard"));
    }

    [Fact]
    public async Task Reserve_AdmittedReservations_RecordHowFarAheadTheyLie()
    {
        using TestMeterFactory meterFactory = new();
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 10, 5, 0, TimeSpan.Zero));
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Global.Add(RateLimitRule.TokenBucket(2, TimeSpan.FromSeconds(1), 1)),
            more: s => s.AddSingleton<IMeterFactory>(meterFactory).AddSingleton<TimeProvider>(time));
        using MetricCollector<double> waits = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.ReservationWaitInstrument);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        for (int i = 0; i < 3; i++)
        {
            (await guard.ReserveAsync(new OutboundEmail { To = [$"r{i}@example.com"] })).IsAllowed.Should().BeTrue();
        }

        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"] });

        waits.GetMeasurementSnapshot().Select(m => m.Value).Should().Equal(0, 0.5, 1.0);
    }
}
