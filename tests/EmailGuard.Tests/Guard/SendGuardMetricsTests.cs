using System.Diagnostics.Metrics;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

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
}
