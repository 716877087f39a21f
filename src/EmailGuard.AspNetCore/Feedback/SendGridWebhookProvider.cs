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

    /// <summary>The values SendGrid writes in an event's <c>event</c> field (delivery and engagement events).</summary>
    private static readonly string[] s_eventTypes =
        ["processed", "dropped", "delivered", "deferred", "bounce", "open", "click", "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"];

    /// <summary>The values SendGrid writes in a bounce event's <c>type</c> field.</summary>
    private static readonly string[] s_bounceTypes = ["bounce", "blocked", "expired"];

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
    /// The recipient of an event whose <c>email</c> a custom arg repeats with another address: no mailbox (RFC 2606
    /// reserves <c>.invalid</c>), so a callback that acts on the address without checking
    /// <see cref="EmailFeedbackEvent.RecipientUncertain"/> harms no one.
    /// </summary>
    internal const string UnknownRecipient = "unknown@recipient.invalid";

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

            SendGridEventFields fields = new(item);
            if (fields.Uncertain("event", s_eventTypes))
            {
                ReadOfUncertainType(fields, item, batch);
                continue;
            }

            string type = fields.Resolved("event", s_eventTypes) ?? string.Empty;
            EmailFeedbackKind kind;
            EmailBounceType bounce = EmailBounceType.None;
            bool suppressed = false;
            bool rejectedForMessage = false;
            bool uncertain = fields.Ambiguous("email");
            switch (type)
            {
                case "dropped" when fields.Ambiguous("reason"):
                    // The reason says which suppression list, if any, the address is on: the copy that says so may be the
                    // sender's, and a drop suppresses and counts nothing else.
                    batch.Skipped.Add($"field 'reason' of dropped event '{Ids(fields)}' has copies that differ (a custom arg named like it)");
                    continue;
                case "dropped" when DropList(fields.String("reason")) is { } list:
                    // SendGrid did not send it: the address is on one of the account's suppression lists.
                    (kind, bounce) = list;
                    suppressed = true;
                    break;
                case "bounce" when fields.Uncertain("type", s_bounceTypes) || fields.Ambiguous("bounce_classification"):
                    // Whichever copy is SendGrid's, the bounce counts against its sender as a bounce (a refusal of the
                    // message does too); only what it says of the address is uncertain.
                    kind = EmailFeedbackKind.Bounced;
                    bounce = EmailBounceType.Permanent;
                    uncertain = true;
                    break;
                case "bounce":
                    kind = EmailFeedbackKind.Bounced;

                    // "blocked": the receiving server would not take the message for now; "bounce" (or none): permanently.
                    bounce = fields.Resolved("type", s_bounceTypes) == "blocked" ? EmailBounceType.Transient : EmailBounceType.Permanent;
                    rejectedForMessage = RejectsTheMessage(fields.Resolved("type", s_bounceTypes), fields.String("bounce_classification"));
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

            if (suppressed && uncertain)
            {
                // A drop counts nowhere: all it does is suppress its recipient, who is uncertain.
                batch.Skipped.Add($"field 'email' of dropped event '{Ids(fields)}' has copies that differ (a custom arg named like it)");
                continue;
            }

            Add(batch, fields, item, kind, bounce, suppressed, rejectedForMessage && !uncertain, uncertain);
        }

        return batch;
    }

    /// <summary>
    /// An event whose <c>event</c> has copies that differ: the sender named a custom arg <c>event</c>, and either copy
    /// may be SendGrid's. A sender that could hide its bounces and complaints so (<c>event</c> = <c>delivered</c> on all its
    /// mail) would trip no breaker, so a copy that says <c>bounce</c> or <c>spamreport</c> counts as one, against the
    /// account and the parties of the tracked message id: the reading the sender chose, and harm to no one else. Nothing
    /// else is recorded: a delivery or an unsubscribe that may not have happened would dilute the sender's ratios or
    /// suppress an address. One per mail (see <see cref="TamperedEventId"/>), however many of its events carry the copy.
    /// </summary>
    private static void ReadOfUncertainType(SendGridEventFields fields, JsonElement item, WebhookBatch batch)
    {
        string[] types = fields.Strings("event");
        bool bounced = types.Contains("bounce", StringComparer.Ordinal);
        bool complained = types.Contains("spamreport", StringComparer.Ordinal);
        if (!bounced && !complained)
        {
            batch.Skipped.Add($"field 'event' of event '{Ids(fields)}' has copies that differ, none a bounce or a spam report (a custom arg named like it)");
            return;
        }

        if (bounced)
        {
            Add(batch, fields, item, EmailFeedbackKind.Bounced, EmailBounceType.Permanent, suppressed: false, rejectedForMessage: false, uncertain: true);
        }

        if (complained)
        {
            Add(batch, fields, item, EmailFeedbackKind.Complained, EmailBounceType.None, suppressed: false, rejectedForMessage: false, uncertain: true);
        }
    }

    private static void Add(
        WebhookBatch batch, SendGridEventFields fields, JsonElement item, EmailFeedbackKind kind, EmailBounceType bounce, bool suppressed, bool rejectedForMessage, bool uncertain)
    {
        bool tampered = fields.Repeated is not null;
        string? id = tampered ? TamperedEventId(fields, kind) : fields.String("sg_event_id");
        string? email = fields.Ambiguous("email") ? UnknownRecipient : fields.String("email");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(email))
        {
            batch.Skipped.Add($"a {KindName(kind)} event has no sg_event_id or email");
            return;
        }

        batch.Events.Add(new EmailFeedbackEvent
        {
            Provider = ProviderName,
            ProviderEventId = id,
            ProviderMessageId = XMessageId(fields.String("sg_message_id")),
            Recipient = email,
            Kind = kind,
            BounceType = bounce,
            SuppressedByProvider = suppressed,
            RejectedForMessage = rejectedForMessage,
            RecipientUncertain = uncertain,
            Timestamp = WebhookJson.UnixSeconds(fields.Certain("timestamp")) ?? default,

            // A custom arg named like SendGrid's field proves the custom args of this mail are the sender's own: its
            // EmailGuard tags may name another tenant. Only the mapping the guard wrote when it sent the message names the
            // parties, and without one the account alone is charged.
            Tags = tampered ? null : WebhookJson.Tags(item),
            Detail = WebhookJson.Detail(WebhookJson.Scalar(item, "status"), fields.String("reason")),
        });
        if (tampered)
        {
            // The sender's own values come last, where the log cuts a long one.
            batch.Tampered.Add($"a {KindName(kind)} recorded as '{id}'{(uncertain ? " of an uncertain recipient" : string.Empty)}; field '{fields.Repeated}' repeats; sg_event_id '{Ids(fields)}'");
        }
    }

    /// <summary>
    /// The event id of an event a custom arg tampers with. Its <c>sg_event_id</c> may be the sender's (a constant one
    /// would make all its bounces one), and with a custom arg <c>event</c> every event of a mail may read as its bounce
    /// (opens the sender makes itself included). So the id is one per mail and kind: a hash of every copy of
    /// <c>sg_message_id</c>, which SendGrid makes per mail and recipient, and of <c>email</c>, whose SendGrid copy is
    /// always there (a delayed bounce has no <c>sg_message_id</c> of SendGrid's); of every copy of <c>sg_event_id</c>
    /// instead when there is no <c>sg_message_id</c> at all. SendGrid's copies are among them, so no choice of the
    /// sender's makes two mails one, and a retry of the batch hashes the same.
    /// </summary>
    private static string? TamperedEventId(SendGridEventFields fields, EmailFeedbackKind kind)
    {
        string[] mails = fields.Strings("sg_message_id");
        string[] ids = mails.Length > 0 ? mails : fields.Strings("sg_event_id");
        if (ids.Length == 0)
        {
            return null;
        }

        string text = string.Join('\n', ids) + "\n\n" + string.Join('\n', fields.Strings("email"));
        return $"emailguard:{KindName(kind)}:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 16));
    }

    private static string KindName(EmailFeedbackKind kind) => kind switch
    {
        EmailFeedbackKind.Bounced => "bounce",
        EmailFeedbackKind.Complained => "spamreport",
        EmailFeedbackKind.Delivered => "delivered",
        _ => "unsubscribe",
    };

    /// <summary>An event's <c>sg_event_id</c> copies, for logs.</summary>
    private static string Ids(SendGridEventFields fields) => string.Join("', '", fields.Strings("sg_event_id"));
}
