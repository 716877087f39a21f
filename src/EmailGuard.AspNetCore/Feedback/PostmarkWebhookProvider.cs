using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Postmark's webhooks (Bounce, SpamComplaint, Delivery, SubscriptionChange), protected by basic-auth credentials in
/// the webhook URL because Postmark does not sign them. The credentials are checked before the body is read.
/// </summary>
internal sealed class PostmarkWebhookProvider : WebhookProvider
{
    public const string ProviderName = "postmark";

    private readonly byte[] _expected;
    private readonly TimeSpan _maxEventAge;
    private readonly TimeProvider _time;

    public PostmarkWebhookProvider(PostmarkWebhookOptions options, TimeProvider time)
    {
        _expected = SHA256.HashData(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}"));
        _maxEventAge = options.MaxEventAge;
        _time = time;
    }

    public override string Name => ProviderName;

    public override WebhookRejection? CheckHeaders(HttpContext context)
    {
        string? header = context.Request.Headers.Authorization;
        const string scheme = "Basic ";
        if (string.IsNullOrEmpty(header) || !header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return new WebhookRejection(WebhookRejectionKind.Unsigned, "no basic-auth credentials");
        }

        byte[] credentials;
        try
        {
            credentials = Convert.FromBase64String(header[scheme.Length..].Trim());
        }
        catch (FormatException)
        {
            return new WebhookRejection(WebhookRejectionKind.BadSignature, "the basic-auth credentials are not base64");
        }

        // Hashing both sides first makes the comparison constant-time whatever the lengths.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(credentials), _expected)
            ? null
            : new WebhookRejection(WebhookRejectionKind.BadSignature, "the basic-auth credentials do not match");
    }

    public override ValueTask<WebhookResult> ReadAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using JsonDocument document = WebhookJson.Parse(body);
        WebhookResult result = Read(document.RootElement);
        if (result.Batch is { } batch)
        {
            DropStale(batch);
        }

        return ValueTask.FromResult(result);
    }

    /// <summary>
    /// Leaves out a record whose own time is further from now than the age limit: Postmark signs nothing, so the
    /// record's time is the only bound on a body posted again once its id's deduplication has lapsed. The credentials
    /// were checked, so the record is acknowledged: Postmark's retry would carry the same time.
    /// </summary>
    /// <remarks>
    /// A record without a readable time is recorded, unchecked, and said so (warning 3045). Postmark writes the time in
    /// every record, so a captured one posted again verbatim is always checked: one without it was made by whoever holds
    /// the credentials, who could as well write a fresh time, or is a format this version does not read, where dropping
    /// it would drop every bounce Postmark sends.
    /// </remarks>
    private void DropStale(WebhookBatch batch)
    {
        DateTimeOffset now = _time.GetUtcNow();
        for (int i = batch.Events.Count - 1; i >= 0; i--)
        {
            EmailFeedbackEvent item = batch.Events[i];
            if (item.Timestamp == default)
            {
                batch.Undated.Add($"record '{item.ProviderEventId}'");
            }
            else if ((now - item.Timestamp).Duration() > _maxEventAge)
            {
                batch.DropAsStale(i, string.Create(
                    CultureInfo.InvariantCulture, $"record '{item.ProviderEventId}' happened at {item.Timestamp:O}, more than {_maxEventAge} from now"));
            }
        }
    }

    private static WebhookResult Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return WebhookRejection.Malformed("the body is not a JSON object");
        }

        WebhookBatch batch = new();
        string recordType = WebhookJson.String(root, "RecordType") ?? string.Empty;
        string? messageId = WebhookJson.String(root, "MessageID");
        IReadOnlyDictionary<string, string>? tags = WebhookJson.Tags(WebhookJson.Property(root, "Metadata"));
        switch (recordType)
        {
            case "Bounce":
            case "SpamComplaint":
                {
                    string type = WebhookJson.String(root, "Type") ?? string.Empty;
                    (EmailFeedbackKind kind, EmailBounceType bounce) = recordType == "SpamComplaint" || type == "SpamComplaint"
                        ? (EmailFeedbackKind.Complained, EmailBounceType.None)
                        : (EmailFeedbackKind.Bounced, BounceType(type));
                    if (kind == EmailFeedbackKind.Bounced && bounce == EmailBounceType.None)
                    {
                        batch.Ignored.Add($"{recordType}/{type}");
                        return batch;
                    }

                    string? id = WebhookJson.Scalar(root, "ID");
                    string? email = WebhookJson.String(root, "Email");
                    if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(email))
                    {
                        return WebhookRejection.Malformed($"a {recordType} record has no ID or Email");
                    }

                    // SMTPApiError: a message sent over SMTP to an address Postmark had already made inactive (a bounce,
                    // complaint, unsubscribe or manual suppression). Postmark refused it; nothing was sent.
                    bool suppressed = type == "SMTPApiError";
                    batch.Events.Add(Event(
                        (kind == EmailFeedbackKind.Complained ? "complaint:" : "bounce:") + id, messageId, email, kind, WebhookJson.Time(root, "BouncedAt"), tags,
                        bounce, type, suppressed, RejectsTheMessage(type)));
                    return batch;
                }

            case "Delivery":
                {
                    string? recipient = WebhookJson.String(root, "Recipient");
                    if (string.IsNullOrEmpty(messageId) || string.IsNullOrEmpty(recipient))
                    {
                        return WebhookRejection.Malformed("a Delivery record has no MessageID or Recipient");
                    }

                    batch.Events.Add(Event($"delivery:{messageId}:{recipient}", messageId, recipient, EmailFeedbackKind.Delivered, WebhookJson.Time(root, "DeliveredAt"), tags));
                    return batch;
                }

            case "SubscriptionChange":
                {
                    // Hard bounces and complaints also arrive as their own records; only a recipient's own unsubscribe is new here.
                    bool suppress = WebhookJson.Property(root, "SuppressSending") is { ValueKind: JsonValueKind.True };
                    string? reason = WebhookJson.String(root, "SuppressionReason");
                    string? origin = WebhookJson.String(root, "Origin");
                    if (!suppress || reason != "ManualSuppression" || origin != "Recipient")
                    {
                        batch.Ignored.Add($"SubscriptionChange/{reason ?? "(none)"}/{origin ?? "(none)"}");
                        return batch;
                    }

                    string? recipient = WebhookJson.String(root, "Recipient");
                    string? changedAt = WebhookJson.String(root, "ChangedAt");
                    if (string.IsNullOrEmpty(recipient) || string.IsNullOrEmpty(changedAt))
                    {
                        return WebhookRejection.Malformed("a SubscriptionChange record has no Recipient or ChangedAt");
                    }

                    batch.Events.Add(Event($"unsubscribe:{messageId}:{recipient}:{changedAt}", messageId, recipient, EmailFeedbackKind.Unsubscribed, WebhookJson.Time(root, "ChangedAt"), tags));
                    return batch;
                }

            default:
                // Open, Click, Inbound and record types added later.
                batch.Ignored.Add(recordType.Length == 0 ? "(none)" : recordType);
                return batch;
        }
    }

    /// <summary>One event of a Postmark record, from the fields every record type maps the same way.</summary>
    private static EmailFeedbackEvent Event(
        string providerEventId,
        string? messageId,
        string recipient,
        EmailFeedbackKind kind,
        DateTimeOffset? timestamp,
        IReadOnlyDictionary<string, string>? tags,
        EmailBounceType bounce = EmailBounceType.None,
        string? detail = null,
        bool suppressedByProvider = false,
        bool rejectedForMessage = false) => new()
        {
            Provider = ProviderName,
            ProviderEventId = providerEventId,
            ProviderMessageId = messageId,
            Recipient = recipient,
            Kind = kind,
            BounceType = bounce,
            SuppressedByProvider = suppressedByProvider,
            RejectedForMessage = rejectedForMessage,
            Timestamp = timestamp ?? default,
            Tags = tags,
            Detail = detail,
        };

    /// <summary>
    /// Whether a bounce <c>Type</c> refuses the message, not the address. Postmark's bounce types (Bounce API reference):
    /// <c>Blocked</c>, "Blocked from this ISP due to content or blacklisting"; <c>DMARCPolicy</c>, "Email rejected due
    /// DMARC Policy" (the sender's domain); <c>SpamNotification</c> (TypeCode 512), the receiving server's spam filter
    /// refused the message (Postmark leaves the address active: the next mail to it is sent); <c>VirusNotification</c>
    /// (TypeCode 8192), the receiving server found a virus in the message.
    /// </summary>
    private static bool RejectsTheMessage(string type) => type is "Blocked" or "DMARCPolicy" or "SpamNotification" or "VirusNotification";

    /// <summary>Postmark's bounce <c>Type</c>; None for types that are not delivery failures (auto-replies, challenges).</summary>
    private static EmailBounceType BounceType(string type) => type switch
    {
        "HardBounce" or "BadEmailAddress" => EmailBounceType.Permanent,
        "SoftBounce" or "Transient" or "DnsError" => EmailBounceType.Transient,
        "Unknown" or "Blocked" or "DMARCPolicy" or "SpamNotification" or "VirusNotification" => EmailBounceType.Undetermined,
        "SMTPApiError" => EmailBounceType.Permanent,
        _ => EmailBounceType.None,
    };
}
