using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace EmailGuard.AspNetCore;

/// <summary>The feedback webhooks' instrument on the <c>EmailGuard</c> meter; recorded only when someone listens.</summary>
internal sealed class WebhookMetrics
{
    private readonly Counter<long>? _requests;

    public WebhookMetrics(IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            return;
        }

        Meter meter = meterFactory.Create(EmailGuardDiagnostics.MeterName);
        _requests = meter.CreateCounter<long>(
            "emailguard.feedback.webhook.requests",
            unit: "{request}",
            description: "Feedback webhook requests, by provider and outcome (accepted, store_unavailable, or why it was refused).");
    }

    public void Request(string provider, string outcome)
    {
        if (_requests is { Enabled: true })
        {
            Record(provider, outcome);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Record(string provider, string outcome)
    {
        var tags = new TagList { { "emailguard.provider", provider }, { "emailguard.outcome", outcome } };
        _requests!.Add(1, tags);
    }
}
