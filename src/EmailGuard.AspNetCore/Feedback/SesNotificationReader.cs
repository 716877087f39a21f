using System.Text.Json;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Reads the SES payload inside an SNS notification: identity notifications (<c>notificationType</c>) and
/// configuration-set events (<c>eventType</c>), one event per recipient.
/// </summary>
internal static class SesNotificationReader
{
    public const string ProviderName = "ses";

    /// <summary>The bounce (and complaint) sub-type of a message SES did not send because of the account's suppression list.</summary>
    private const string OnAccountSuppressionList = "OnAccountSuppressionList";

    /// <summary>Adds the events of <paramref name="message"/> to <paramref name="batch"/>; a rejection when a known type is malformed.</summary>
    public static WebhookRejection? Read(string message, SnsEnvelope envelope, WebhookBatch batch)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message, WebhookJson.DocumentOptions);
        }
        catch (JsonException)
        {
            // SES publishes a plain-text test message when a topic is attached; it is authentic and carries nothing.
            batch.Ignored.Add("(not JSON)");
            return null;
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            string type = (WebhookJson.String(root, "notificationType") ?? WebhookJson.String(root, "eventType")) ?? string.Empty;
            JsonElement? mail = WebhookJson.Property(root, "mail");
            string? messageId = mail is { } m ? WebhookJson.String(m, "messageId") : null;
            IReadOnlyDictionary<string, string>? tags = WebhookJson.Tags(mail is { } mt ? WebhookJson.Property(mt, "tags") : null);
            // mail.timestamp is when SES accepted the message to send, written by SES into the message SNS signs: the
            // one send time of the four providers the sender cannot set (a bot would date its probe's bounces back).
            DateTimeOffset? sentAt = mail is { } mtime ? WebhookJson.Time(mtime, "timestamp") : null;
            DateTimeOffset fallbackTime = sentAt
                ?? (DateTimeOffset.TryParse(envelope.Timestamp, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset sns) ? sns : default);
            switch (type)
            {
                case "Bounce":
                    {
                        if (WebhookJson.Property(root, "bounce") is not { ValueKind: JsonValueKind.Object } bounce)
                        {
                            return WebhookRejection.Malformed("a Bounce has no bounce object");
                        }

                        EmailBounceType bounceType = WebhookJson.String(bounce, "bounceType") switch
                        {
                            "Permanent" => EmailBounceType.Permanent,
                            "Transient" => EmailBounceType.Transient,
                            _ => EmailBounceType.Undetermined,
                        };
                        string? subType = WebhookJson.String(bounce, "bounceSubType");

                        // The account-level suppression list: SES did not send the message, and leaves it out of the
                        // account's bounce rate. "Suppressed" (the global list) is not this: SES counts those.
                        bool suppressed = bounceType == EmailBounceType.Permanent && subType == OnAccountSuppressionList;
                        return AddRecipients(
                            batch, bounce, "bouncedRecipients", "bounce", EmailFeedbackKind.Bounced, bounceType, messageId, tags, sentAt, fallbackTime, envelope, subType, suppressed,
                            RejectsTheMessage(subType));
                    }

                case "Complaint":
                    {
                        if (WebhookJson.Property(root, "complaint") is not { ValueKind: JsonValueKind.Object } complaint)
                        {
                            return WebhookRejection.Malformed("a Complaint has no complaint object");
                        }

                        // A feedback report that says "not-spam" is the opposite of a complaint.
                        if (WebhookJson.String(complaint, "complaintFeedbackType") == "not-spam")
                        {
                            batch.Ignored.Add("Complaint/not-spam");
                            return null;
                        }

                        // complaintSubType OnAccountSuppressionList: SES accepted the message but did not send it.
                        bool suppressed = WebhookJson.String(complaint, "complaintSubType") == OnAccountSuppressionList;
                        return AddRecipients(
                            batch, complaint, "complainedRecipients", "complaint", EmailFeedbackKind.Complained, EmailBounceType.None, messageId, tags, sentAt, fallbackTime, envelope,
                            suppressed ? OnAccountSuppressionList : WebhookJson.String(complaint, "complaintFeedbackType"), suppressed);
                    }

                case "Delivery":
                    {
                        if (WebhookJson.Property(root, "delivery") is not { ValueKind: JsonValueKind.Object } delivery
                            || WebhookJson.Property(delivery, "recipients") is not { ValueKind: JsonValueKind.Array } recipients)
                        {
                            return WebhookRejection.Malformed("a Delivery has no delivery.recipients");
                        }

                        DateTimeOffset at = WebhookJson.Time(delivery, "timestamp") ?? fallbackTime;
                        string scope = messageId ?? envelope.MessageId;
                        foreach (JsonElement recipient in recipients.EnumerateArray())
                        {
                            if (WebhookJson.Text(recipient) is not { Length: > 0 } address)
                            {
                                // The other recipients are still recorded: a retry would carry the same entry.
                                batch.Skipped.Add("a delivery recipient is not an address");
                                continue;
                            }

                            batch.Events.Add(new EmailFeedbackEvent
                            {
                                Provider = ProviderName,
                                ProviderEventId = $"delivery:{scope}:{address}",
                                ProviderMessageId = messageId,
                                Recipient = address,
                                Kind = EmailFeedbackKind.Delivered,
                                Timestamp = at,
                                SentAt = sentAt,
                                Tags = tags,
                                Detail = WebhookJson.String(delivery, "smtpResponse"),
                            });
                        }

                        return null;
                    }

                default:
                    // Send, Reject, Open, Click, Rendering Failure, DeliveryDelay, Subscription, Received, and anything new.
                    batch.Ignored.Add(type.Length == 0 ? "(no notificationType or eventType)" : type);
                    return null;
            }
        }
    }

    /// <summary>
    /// Whether a bounce sub-type names a refusal of the message, not of the address. The SES developer guide ("Contents of
    /// event data that Amazon SES publishes to Amazon SNS", bounce types): <c>MessageTooLarge</c>, the recipient's
    /// server refused the message for its size; <c>ContentRejected</c>, for content it does not allow;
    /// <c>AttachmentRejected</c>, for an attachment it does not accept. SES files them under <c>Transient</c>.
    /// </summary>
    private static bool RejectsTheMessage(string? subType) => subType is "ContentRejected" or "AttachmentRejected" or "MessageTooLarge";

    private static WebhookRejection? AddRecipients(
        WebhookBatch batch,
        JsonElement section,
        string listName,
        string idPrefix,
        EmailFeedbackKind kind,
        EmailBounceType bounceType,
        string? messageId,
        IReadOnlyDictionary<string, string>? tags,
        DateTimeOffset? sentAt,
        DateTimeOffset fallbackTime,
        SnsEnvelope envelope,
        string? detail,
        bool suppressedByProvider,
        bool rejectedForMessage = false)
    {
        if (WebhookJson.Property(section, listName) is not { ValueKind: JsonValueKind.Array } recipients || recipients.GetArrayLength() == 0)
        {
            return WebhookRejection.Malformed($"{idPrefix}.{listName} is missing or empty");
        }

        // The feedback id is the same whichever topic or retry brings the event; the SNS message id is the fallback.
        string scope = WebhookJson.String(section, "feedbackId") ?? envelope.MessageId;
        DateTimeOffset at = WebhookJson.Time(section, "timestamp") ?? fallbackTime;
        foreach (JsonElement recipient in recipients.EnumerateArray())
        {
            string? address = WebhookJson.String(recipient, "emailAddress");
            if (string.IsNullOrEmpty(address))
            {
                // The other recipients are still recorded: the message is signed, so a retry would carry the same entry.
                batch.Skipped.Add($"an entry of {idPrefix}.{listName} has no emailAddress");
                continue;
            }

            string? status = WebhookJson.String(recipient, "status");
            string? diagnostic = WebhookJson.String(recipient, "diagnosticCode");
            batch.Events.Add(new EmailFeedbackEvent
            {
                Provider = ProviderName,
                ProviderEventId = $"{idPrefix}:{scope}:{address}",
                ProviderMessageId = messageId,
                Recipient = address,
                Kind = kind,
                BounceType = bounceType,
                SuppressedByProvider = suppressedByProvider,
                RejectedForMessage = rejectedForMessage,
                Timestamp = at,
                SentAt = sentAt,
                Tags = tags,
                Detail = WebhookJson.Detail(detail, status, diagnostic),
            });
        }

        return null;
    }
}
