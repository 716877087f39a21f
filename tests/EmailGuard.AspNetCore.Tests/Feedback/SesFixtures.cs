namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>SES payloads with the field names and shapes of the SES developer guide's examples.</summary>
internal static class SesFixtures
{
    /// <summary>An identity notification (notificationType) for a permanent bounce to two recipients.</summary>
    public const string IdentityBounceTwoRecipients = """
        {
          "notificationType": "Bounce",
          "bounce": {
            "feedbackId": "0102017c-feedback-0001",
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
              { "emailAddress": "jane@example.com", "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown" },
              { "emailAddress": "richard@example.com", "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown" }
            ],
            "timestamp": "2026-03-02T00:00:05.000Z",
            "remoteMtaIp": "127.0.2.0",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com"
          },
          "mail": {
            "timestamp": "2026-03-02T00:00:00.000Z",
            "source": "john@example.com",
            "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
            "sendingAccountId": "123456789012",
            "messageId": "0102017c-ses-message-1",
            "destination": [ "jane@example.com", "richard@example.com" ],
            "headersTruncated": false,
            "headers": [ { "name": "From", "value": "John <john@example.com>" } ],
            "commonHeaders": { "from": [ "John <john@example.com>" ], "to": [ "jane@example.com", "richard@example.com" ], "subject": "Hello" }
          }
        }
        """;

    /// <summary>A configuration-set event (eventType) for a transient bounce, with message tags from EmailFeedbackTags.</summary>
    public static string EventBounceWithTags(IReadOnlyDictionary<string, string> tags)
    {
        string tagJson = string.Join(",", tags.Select(t => $"\"{t.Key}\": [\"{t.Value}\"]"));
        return $$"""
            {
              "eventType": "Bounce",
              "bounce": {
                "bounceType": "Transient",
                "bounceSubType": "MailboxFull",
                "bouncedRecipients": [ { "emailAddress": "full@example.com", "action": "failed", "status": "4.2.2" } ],
                "timestamp": "2026-03-02T00:00:06.000Z",
                "feedbackId": "0102017c-feedback-0002",
                "reportingMTA": "dsn; e226-55.smtp-out.us-east-2.amazonses.com"
              },
              "mail": {
                "timestamp": "2026-03-02T00:00:00.000Z",
                "source": "sender@example.com",
                "messageId": "0102017c-ses-message-2",
                "destination": [ "full@example.com" ],
                "tags": { "ses:configuration-set": [ "feedback" ], "ses:source-ip": [ "192.0.2.0" ], {{tagJson}} }
              }
            }
            """;
    }

    public const string IdentityComplaint = """
        {
          "notificationType": "Complaint",
          "complaint": {
            "userAgent": "AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients": [ { "emailAddress": "richard@example.com" } ],
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-03-02T00:01:00.000Z",
            "timestamp": "2026-03-02T00:01:01.000Z",
            "feedbackId": "0102017c-feedback-0003"
          },
          "mail": { "timestamp": "2026-03-02T00:00:00.000Z", "source": "john@example.com", "messageId": "0102017c-ses-message-3", "destination": [ "richard@example.com" ] }
        }
        """;

    public const string EventDelivery = """
        {
          "eventType": "Delivery",
          "mail": { "timestamp": "2026-03-02T00:00:00.000Z", "source": "john@example.com", "messageId": "0102017c-ses-message-4", "destination": [ "a@example.com", "b@example.com" ] },
          "delivery": {
            "timestamp": "2026-03-02T00:00:01.000Z",
            "processingTimeMillis": 546,
            "recipients": [ "a@example.com", "b@example.com" ],
            "smtpResponse": "250 ok",
            "reportingMTA": "a8-70.smtp-out.amazonses.com"
          }
        }
        """;

    public const string EventOpen = """
        { "eventType": "Open", "mail": { "messageId": "0102017c-ses-message-5" }, "open": { "ipAddress": "192.0.2.1", "timestamp": "2026-03-02T00:02:00.000Z", "userAgent": "x" } }
        """;
}
