using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace EmailGuard.AspNetCore;

/// <summary>The middleware's instruments on the <c>EmailGuard</c> meter; recorded only when someone listens.</summary>
internal sealed class EndpointMetrics
{
    private readonly Counter<long>? _decisions;

    public EndpointMetrics(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            return;
        }

        Meter meter = meterFactory.Create(EmailGuardDiagnostics.MeterName);
        _decisions = meter.CreateCounter<long>(
            "emailguard.endpoint.decisions",
            unit: "{request}",
            description: "Requests the EmailGuard endpoint middleware decided on, by policy and outcome.");
    }

    public void Decision(string policy, string outcome)
    {
        if (_decisions is { Enabled: true })
        {
            Record(policy, outcome);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Record(string policy, string outcome)
    {
        var tags = new TagList { { "emailguard.policy", policy }, { "emailguard.outcome", outcome } };
        _decisions!.Add(1, tags);
    }
}
