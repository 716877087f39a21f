using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace EmailGuard.AspNetCore;

/// <summary>The middleware's instruments on the <c>EmailGuard</c> meter; recorded only when someone listens.</summary>
internal sealed class EndpointMetrics
{
    private readonly Counter<long>? _decisions;
    private readonly Counter<long>? _bans;
    private readonly Counter<long>? _surgeTransitions;
    private readonly Counter<long>? _uncounted;

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
        _bans = meter.CreateCounter<long>(
            "emailguard.endpoint.bans",
            unit: "{ban}",
            description: "Client networks banned from an endpoint policy, by policy and whether the ban was a repeat.");
        _surgeTransitions = meter.CreateCounter<long>(
            "emailguard.endpoint.surge_breaker.transitions",
            unit: "{transition}",
            description: "Surge breaker state changes seen by this instance, by policy and new state (tripped, recovered).");
        _uncounted = meter.CreateCounter<long>(
            "emailguard.endpoint.uncounted_requests",
            unit: "{request}",
            description: "Requests an endpoint policy counted in none of its partitions, as each partition's value was missing and left out, by policy.");
    }

    public void Uncounted(string policy)
    {
        if (_uncounted is { Enabled: true })
        {
            _uncounted.Add(1, new KeyValuePair<string, object?>("emailguard.policy", policy));
        }
    }

    public void BanStarted(string policy, int repeat)
    {
        if (_bans is { Enabled: true })
        {
            _bans.Add(1, new TagList { { "emailguard.policy", policy }, { "emailguard.ban.repeat", repeat > 1 } });
        }
    }

    public void SurgeBreaker(string policy, string state)
    {
        if (_surgeTransitions is { Enabled: true })
        {
            _surgeTransitions.Add(1, new TagList { { "emailguard.policy", policy }, { "emailguard.breaker.state", state } });
        }
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
