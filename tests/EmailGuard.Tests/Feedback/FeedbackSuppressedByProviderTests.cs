using System.Diagnostics.Metrics;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.Tests.Feedback;

/// <summary>
/// Feedback about mail the provider never sent, because the address was on its own suppression list: it suppresses the
/// address as its kind does, is deduplicated, and counts toward no rate.
/// </summary>
public sealed class FeedbackSuppressedByProviderTests
{
    private static readonly EmailSendAttribution s_attribution = new() { TenantId = "acme", UserId = "user-42", Sender = "noreply@app.example", Category = "signup" };

    private static EmailFeedbackEvent Suppressed(string id, EmailFeedbackKind kind = EmailFeedbackKind.Bounced, EmailBounceType bounce = EmailBounceType.Permanent, string recipient = "gone@example.com")
        => new()
        {
            Provider = "ses",
            ProviderEventId = id,
            Recipient = recipient,
            Kind = kind,
            BounceType = bounce,
            SuppressedByProvider = true,
            Attribution = s_attribution,
        };

    [Fact]
    public async Task Record_CountsNothing_SuppressesTheAddress_AndSaysSoInMetricsAndLogs()
    {
        using TestMeterFactory meterFactory = new();
        await using FeedbackTestApp app = new(more: s => s.AddSingleton<IMeterFactory>(meterFactory));
        using MetricCollector<long> feedback = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.FeedbackInstrument);

        EmailFeedbackResult first = await app.Feedback.RecordAsync(Suppressed("evt-1"));
        EmailFeedbackResult complaint = await app.Feedback.RecordAsync(Suppressed("evt-2", EmailFeedbackKind.Complained, EmailBounceType.None, "reporter@example.com"));
        EmailFeedbackResult again = await app.Feedback.RecordAsync(Suppressed("evt-1"));

        (first.Outcome, first.SuppressionReason).Should().Be((EmailFeedbackOutcome.Recorded, EmailFeedbackSuppressionReasons.HardBounce));
        (complaint.Outcome, complaint.SuppressionReason).Should().Be((EmailFeedbackOutcome.Recorded, EmailFeedbackSuppressionReasons.Complaint));
        again.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        foreach (EmailFeedbackCounts counts in await app.Counts.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme", UserId = "user-42", Sender = "noreply@app.example", Category = "signup" }))
        {
            (counts.Bounces, counts.TransientBounces, counts.Complaints).Should().Be((0, 0, 0), $"the {counts.Dimension} sent none of that mail");
        }

        (await app.CheckAsync("gone@example.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await app.CheckAsync("reporter@example.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
        feedback.GetMeasurementSnapshot()
            .Select(m => ((string?)m.Tags["emailguard.feedback.kind"], (string?)m.Tags["emailguard.outcome"]))
            .Should().Equal(("bounced", "suppressed_by_provider"), ("complained", "suppressed_by_provider"), ("bounced", "duplicate"));
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 2984).Should().HaveCount(2)
            .And.AllSatisfy(r => r.Message.Should().Contain("never sent").And.Contain("acme"));
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 1700, "1700 says the event was counted");
    }

    [Fact]
    public async Task Unsubscribe_SuppressesTheCategoryOnly()
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(Suppressed("evt-1", EmailFeedbackKind.Unsubscribed, EmailBounceType.None));

        result.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.Unsubscribe);
        (await app.CheckAsync("gone@example.com", "signup")).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await app.CheckAsync("gone@example.com", "password-reset")).IsAllowed.Should().BeTrue();
    }

    [Theory]
    [InlineData(EmailFeedbackKind.Delivered, EmailBounceType.None)]
    [InlineData(EmailFeedbackKind.Bounced, EmailBounceType.Transient)]
    [InlineData(EmailFeedbackKind.Bounced, EmailBounceType.Undetermined)]
    public async Task Record_OfAKindNoSuppressionListHolds_Throws(EmailFeedbackKind kind, EmailBounceType bounce)
    {
        await using FeedbackTestApp app = new();

        Func<Task> record = async () => await app.Feedback.RecordAsync(Suppressed("evt-1", kind, bounce));

        (await record.Should().ThrowAsync<ArgumentException>()).WithMessage("*SuppressedByProvider*");
    }
}
