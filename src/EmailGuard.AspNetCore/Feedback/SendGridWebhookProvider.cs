using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// SendGrid's signed Event Webhook: a JSON array of events, signed with ECDSA P-256 SHA-256 over the
/// <c>X-Twilio-Email-Event-Webhook-Timestamp</c> header followed by the raw body; the base64 DER signature is in
/// <c>X-Twilio-Email-Event-Webhook-Signature</c>. Custom args come back as top-level keys of each event.
/// </summary>
internal sealed class SendGridWebhookProvider : WebhookProvider
{
    public const string ProviderName = "sendgrid";
    public const string SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature";
    public const string TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp";

    private readonly byte[] _publicKey;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _time;

    public SendGridWebhookProvider(SendGridWebhookOptions options, TimeProvider time)
    {
        _publicKey = ReadPublicKey(options.PublicKey) ?? [];
        _tolerance = options.TimestampTolerance;
        _time = time;
    }

    public override string Name => ProviderName;

    /// <summary>
    /// The <c>X-Message-Id</c> SendGrid's send API answered for the message, read from an event's <c>sg_message_id</c>:
    /// SendGrid writes that id, a dot, and the id of the server that split the message per recipient
    /// (<c>Ua9z9lSTSaqYBWJe_Xfc-Q.filterdrecv-5645d9c87f-6r2ch-1-5B5B0F2A-3.0</c>), and the transport could only track the
    /// <c>X-Message-Id</c>, so the whole value would find no attribution. An <c>X-Message-Id</c> is base64url and has no
    /// dot; the older form had dots of its own (<c>14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0</c>) and ends at
    /// <c>.filter</c>. A value without a dot is taken as it is.
    /// </summary>
    internal static string? XMessageId(string? sgMessageId)
    {
        if (string.IsNullOrEmpty(sgMessageId))
        {
            return sgMessageId;
        }

        int end = sgMessageId.IndexOf(".filter", StringComparison.Ordinal);
        if (end < 0)
        {
            end = sgMessageId.IndexOf('.', StringComparison.Ordinal);
        }

        return end > 0 ? sgMessageId[..end] : sgMessageId;
    }

    /// <summary>The SubjectPublicKeyInfo bytes of a P-256 key, from base64 or PEM; null when it is not one.</summary>
    public static byte[]? ReadPublicKey(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            using ECDsa ecdsa = ECDsa.Create();
            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                ecdsa.ImportFromPem(text);
            }
            else
            {
                ecdsa.ImportSubjectPublicKeyInfo(Convert.FromBase64String(text.Trim()), out _);
            }

            return ecdsa.KeySize == 256 ? ecdsa.ExportSubjectPublicKeyInfo() : null;
        }
        catch (Exception exception) when (exception is CryptographicException or FormatException or ArgumentException)
        {
            return null;
        }
    }

    public override ValueTask<WebhookResult> ReadAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        string? signature = context.Request.Headers[SignatureHeader];
        string? timestamp = context.Request.Headers[TimestampHeader];
        if (string.IsNullOrEmpty(signature) || string.IsNullOrEmpty(timestamp))
        {
            return Result(new WebhookRejection(WebhookRejectionKind.Unsigned, $"{SignatureHeader} or {TimestampHeader} is missing"));
        }

        if (!Verify(timestamp, body.Span, signature))
        {
            return Result(new WebhookRejection(WebhookRejectionKind.BadSignature, "the ECDSA signature over timestamp and body does not verify"));
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) || seconds > 253_402_300_799)
        {
            return Result(WebhookRejection.Malformed($"{TimestampHeader} is not Unix seconds"));
        }

        WebhookResult result;
        using (JsonDocument document = WebhookJson.Parse(body))
        {
            result = Read(document.RootElement);
        }

        // Signed, so authentic: acknowledged, and its events not recorded, since a retry of this body is as old.
        DateTimeOffset signedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        return Result(result.Batch is { } batch && (_time.GetUtcNow() - signedAt).Duration() > _tolerance
            ? batch.DropAsStale(string.Create(CultureInfo.InvariantCulture, $"signed at {signedAt:O}, more than {_tolerance} from now"))
            : result);
    }

    private static ValueTask<WebhookResult> Result(WebhookResult result) => ValueTask.FromResult(result);

    private bool Verify(string timestamp, ReadOnlySpan<byte> body, string signature)
    {
        byte[] der;
        try
        {
            der = Convert.FromBase64String(signature);
        }
        catch (FormatException)
        {
            return false;
        }

        byte[] signed = new byte[Encoding.UTF8.GetByteCount(timestamp) + body.Length];
        int written = Encoding.UTF8.GetBytes(timestamp, signed);
        body.CopyTo(signed.AsSpan(written));
        using ECDsa ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportSubjectPublicKeyInfo(_publicKey, out _);
            return ecdsa.VerifyData(signed, der, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// The fields of an event this reader takes its recipient, type, ids and time from, <c>reason</c>, which says
    /// whether a drop suppresses its recipient (<see cref="DropList"/>), and <c>bounce_classification</c>, which says
    /// whether a bounce does (<see cref="RejectsTheMessage"/>).
    /// </summary>
    private static readonly string[] s_eventFields = ["email", "event", "type", "sg_event_id", "sg_message_id", "timestamp", "reason", "bounce_classification"];

    /// <summary>The first of <see cref="s_eventFields"/> that <paramref name="item"/> holds more than once, or null.</summary>
    private static string? RepeatedField(JsonElement item)
    {
        Span<int> seen = stackalloc int[s_eventFields.Length];
        seen.Clear();
        foreach (JsonProperty property in item.EnumerateObject())
        {
            int index = Array.IndexOf(s_eventFields, property.Name);
            if (index >= 0 && ++seen[index] > 1)
            {
                return s_eventFields[index];
            }
        }

        return null;
    }

    /// <summary>
    /// The suppression list a <c>dropped</c> event's <c>reason</c> names (bounces, invalid emails, spam reports,
    /// unsubscribes); null for a drop that is not about the address (spam content, an invalid X-SMTPAPI header).
    /// </summary>
    private static (EmailFeedbackKind Kind, EmailBounceType Bounce)? DropList(string? reason) => reason?.Trim().ToUpperInvariant() switch
    {
        "BOUNCED ADDRESS" or "INVALID" => (EmailFeedbackKind.Bounced, EmailBounceType.Permanent),
        "SPAM REPORTING ADDRESS" => (EmailFeedbackKind.Complained, EmailBounceType.None),
        "UNSUBSCRIBED ADDRESS" => (EmailFeedbackKind.Unsubscribed, EmailBounceType.None),
        _ => null,
    };

    /// <summary>
    /// Whether a <c>bounce</c> event refuses the message, not the address. SendGrid's Blocks documentation: "Blocks happen
    /// when your email is rejected because of an issue with the message itself rather than an issue with the recipient's
    /// address", and SendGrid does not suppress blocked addresses; such a bounce has <c>type</c> <c>blocked</c>. Its
    /// Event Webhook reference classifies each bounce (<c>bounce_classification</c>): <c>Content</c>, <c>Reputation</c>
    /// and <c>Frequency or Volume Too High</c> are about the message or its sender, even on a bounce of type
    /// <c>bounce</c>; <c>Invalid Address</c>, <c>Mailbox Unavailable</c>, <c>Technical Failure</c> and
    /// <c>Unclassified</c> are not.
    /// </summary>
    private static bool RejectsTheMessage(string? type, string? classification)
        => type == "blocked" || classification is "Content" or "Reputation" or "Frequency or Volume Too High";

    private static WebhookResult Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Array)
        {
            return WebhookRejection.Malformed("the body is not a JSON array of events");
        }

        WebhookBatch batch = new();
        foreach (JsonElement item in root.EnumerateArray())
        {
            // A bad event is skipped, not the batch: the batch is signed, so a retry carries the same bad event, and a 400
            // would lose every other tenant's bounces with it (a custom arg that blanks "email" would do).
            if (item.ValueKind != JsonValueKind.Object)
            {
                batch.Skipped.Add("an event is not a JSON object");
                continue;
            }

            string type = WebhookJson.String(item, "event") ?? string.Empty;
            EmailFeedbackKind kind;
            EmailBounceType bounce = EmailBounceType.None;
            bool suppressed = false;
            bool rejectedForMessage = false;
            switch (type)
            {
                case "dropped" when DropList(WebhookJson.String(item, "reason")) is { } list:
                    // SendGrid did not send it: the address is on one of the account's suppression lists.
                    (kind, bounce) = list;
                    suppressed = true;
                    break;
                case "bounce":
                    kind = EmailFeedbackKind.Bounced;

                    // "blocked": the receiving server would not take the message for now; "bounce" (or none): permanently.
                    bounce = WebhookJson.String(item, "type") == "blocked" ? EmailBounceType.Transient : EmailBounceType.Permanent;
                    rejectedForMessage = RejectsTheMessage(WebhookJson.String(item, "type"), WebhookJson.String(item, "bounce_classification"));
                    break;
                case "spamreport":
                    kind = EmailFeedbackKind.Complained;
                    break;
                case "delivered":
                    kind = EmailFeedbackKind.Delivered;
                    break;
                case "unsubscribe":
                case "group_unsubscribe":
                    kind = EmailFeedbackKind.Unsubscribed;
                    break;
                default:
                    // processed, deferred, dropped for another reason (spam content, a bad X-SMTPAPI header), open, click,
                    // group_resubscribe, account events.
                    batch.Ignored.Add(type.Length == 0 ? "(none)" : type);
                    continue;
            }

            if (RepeatedField(item) is { } repeated)
            {
                // SendGrid echoes custom args beside its own fields: a second copy of one is the sender's, and which copy
                // is SendGrid's cannot be told. The recipient, type or id could be anyone's, so the event records nothing.
                batch.Skipped.Add($"field '{repeated}' of event '{WebhookJson.String(item, "sg_event_id")}' appears more than once (a custom arg named like it)");
                continue;
            }

            string? id = WebhookJson.String(item, "sg_event_id");
            string? email = WebhookJson.String(item, "email");
            if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(email))
            {
                batch.Skipped.Add($"a {type} event has no sg_event_id or email");
                continue;
            }

            batch.Events.Add(new EmailFeedbackEvent
            {
                Provider = ProviderName,
                ProviderEventId = id,
                ProviderMessageId = XMessageId(WebhookJson.String(item, "sg_message_id")),
                Recipient = email,
                Kind = kind,
                BounceType = bounce,
                SuppressedByProvider = suppressed,
                RejectedForMessage = rejectedForMessage,
                Timestamp = WebhookJson.UnixSeconds(item, "timestamp") ?? default,
                Attribution = WebhookJson.Attribution(item),
                Detail = WebhookJson.Detail(WebhookJson.Scalar(item, "status"), WebhookJson.String(item, "reason")),
            });
        }

        return batch;
    }
}
