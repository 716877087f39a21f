using System.Net;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// An SNS notification signed longer ago than <see cref="SesWebhookOptions.MaxMessageAge"/> is not recorded (it is
/// acknowledged, since a retry carries the same signed time), as Mailgun and SendGrid drop old signatures; it used to be accepted whatever its signed <c>Timestamp</c> (found by a
/// hostile review). Deduplication by event id lasts
/// <see cref="EmailFeedbackOptions.DeduplicationWindow"/> (3 days), so a captured SES bounce or complaint (from a log,
/// a proxy, a support ticket) replayed after it is recorded again: the recipient is suppressed again after an operator
/// lifted it, and the party it names is charged a bounce or complaint again, toward its ratio breaker.
/// </summary>
public sealed class HostileSesReplayTests : SesWebhookTestBase
{
    [Fact]
    public async Task Notification_SignedLongerAgoThanTheDeduplicationWindow_IsAcknowledgedAndNotRecorded()
    {
        // Signed at TestApp.Start (2026-03-02T00:00:00Z), replayed once the deduplication of its event id has lapsed.
        Dictionary<string, string?> captured = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        App.Time.Advance(new EmailFeedbackOptions().DeduplicationWindow + TimeSpan.FromHours(1));

        HttpResponseMessage response = await PostAsync(captured);

        response.StatusCode.Should().Be(HttpStatusCode.OK, "the notification is authentic, and SNS would retry it with the same Timestamp");
        App.Feedback.Calls.Should().BeEmpty("a notification signed days ago is not recorded, as it is not for Mailgun and SendGrid");
        App.LogsWithId(2943).Should().ContainSingle();
    }

    [Fact]
    public async Task Notification_SignedLongerAgoThanMaxMessageAge_WithAForgedSignature_Answers401AndRecordsNothing()
    {
        // A forgery dated long ago: signed by a key that is not the certificate's, as an attacker who read the body of
        // a real bounce could. Staleness is only worth a 200 for an authentic message (SNS retries it unchanged); judged
        // before the signature, a forgery would be told it was accepted and be logged as a replay of a real message.
        using SnsSigner attacker = new(TestApp.Start);
        Dictionary<string, string?> forged = attacker.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        App.Time.Advance(new SesWebhookOptions().MaxMessageAge + TimeSpan.FromHours(1));

        HttpResponseMessage response = await PostAsync(forged);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "the signature does not verify, whatever the message's age");
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1751).Should().ContainSingle();
        App.LogsWithId(2943).Should().BeEmpty("a forgery is not a stale authentic message");
    }
}
