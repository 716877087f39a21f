using System.Text.Json.Nodes;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Bounce payloads of SES's and SendGrid's shapes, carrying an admitted message's <see cref="EmailFeedbackTags"/>, for the
/// tests that post them signed through the real routes: one shape per provider, the bounce's data from the test.
/// </summary>
internal static class BouncePayloads
{
    /// <summary>An SES configuration-set event (eventType) for a bounce of one recipient, with the message's tags.</summary>
    /// <param name="attribution">The message's attribution, written as its SES tags.</param>
    /// <param name="id">Unique per payload: the feedback id and the message id end with it.</param>
    /// <param name="recipient">The bounced recipient.</param>
    /// <param name="bounceType"><c>Permanent</c> or <c>Transient</c>.</param>
    /// <param name="subType">The bounce subtype.</param>
    /// <param name="status">The recipient's enhanced status code.</param>
    /// <param name="diagnostic">The recipient's diagnostic code.</param>
    public static string Ses(EmailSendAttribution attribution, string id, string recipient, string bounceType, string subType, string status, string diagnostic)
    {
        string tags = string.Join(",", EmailFeedbackTags.Write(attribution).Select(t => $"\"{t.Key}\": [\"{t.Value}\"]"));
        return $$"""
            {
              "eventType": "Bounce",
              "bounce": {
                "bounceType": "{{bounceType}}",
                "bounceSubType": "{{subType}}",
                "bouncedRecipients": [ { "emailAddress": "{{recipient}}", "action": "failed", "status": "{{status}}", "diagnosticCode": "{{diagnostic}}" } ],
                "timestamp": "2026-03-02T00:00:06.000Z",
                "feedbackId": "0102017c-feedback-{{id}}",
                "reportingMTA": "dns; a8-50.smtp-out.amazonses.com"
              },
              "mail": {
                "timestamp": "2026-03-02T00:00:00.000Z",
                "source": "noreply@app.example",
                "messageId": "0102017c-ses-message-{{id}}",
                "destination": [ "{{recipient}}" ],
                "tags": { "ses:configuration-set": [ "feedback" ], {{tags}} }
              }
            }
            """;
    }

    /// <summary>A SendGrid event post of one event, with the message's tags as custom arguments.</summary>
    /// <param name="attribution">The message's attribution, written as its custom arguments.</param>
    /// <param name="eventId">The event's <c>sg_event_id</c>, unique per event.</param>
    /// <param name="at">The event's timestamp.</param>
    /// <param name="recipient">The recipient.</param>
    /// <param name="eventType">The event: <c>bounce</c>, <c>dropped</c>, ...</param>
    /// <param name="fields">The event's own fields: <c>type</c>, <c>reason</c>, <c>status</c>, <c>bounce_classification</c>, or another <c>sg_message_id</c>.</param>
    public static string SendGrid(EmailSendAttribution attribution, string eventId, DateTimeOffset at, string recipient, string eventType, params (string Key, string Value)[] fields)
    {
        var item = new JsonObject
        {
            ["email"] = recipient,
            ["timestamp"] = at.ToUnixTimeSeconds(),
            ["smtp-id"] = "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            ["event"] = eventType,
        };
        item["sg_message_id"] = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0";
        foreach ((string key, string value) in fields)
        {
            item[key] = value;
        }

        item["sg_event_id"] = eventId;
        foreach ((string name, string value) in EmailFeedbackTags.Write(attribution))
        {
            item[name] = value;
        }

        return new JsonArray(item).ToJsonString();
    }
}
