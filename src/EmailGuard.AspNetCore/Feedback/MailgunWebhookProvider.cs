using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Mailgun's JSON webhooks: <c>{"signature":{"timestamp","token","signature"},"event-data":{...}}</c>, signed with
/// hex HMAC-SHA256(webhook signing key, timestamp + token). Tokens are remembered to refuse replays, and a timestamp
/// outside the tolerance is refused as stale.
/// </summary>
internal sealed class MailgunWebhookProvider : WebhookProvider
{
    public const string ProviderName = "mailgun";

    private readonly byte[] _key;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _time;
    private readonly ReplayTokenMemory _tokens;

    public MailgunWebhookProvider(MailgunWebhookOptions options, TimeProvider time)
    {
        _key = Encoding.UTF8.GetBytes(options.SigningKey ?? string.Empty);
        _tolerance = options.TimestampTolerance;
        _time = time;
        _tokens = new ReplayTokenMemory(options.MaxRememberedTokens, time);
    }

    public override string Name => ProviderName;

    internal ReplayTokenMemory Tokens => _tokens;

    public override ValueTask<WebhookResult> ReadAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using JsonDocument document = WebhookJson.Parse(body);
        return ValueTask.FromResult(Read(document.RootElement));
    }

    private WebhookResult Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return WebhookRejection.Malformed("the body is not a JSON object");
        }

        JsonElement? signature = WebhookJson.Property(root, "signature");
        string? timestampText = signature is { } s1 ? WebhookJson.Scalar(s1, "timestamp") : null;
        string? token = signature is { } s2 ? WebhookJson.String(s2, "token") : null;
        string? hex = signature is { } s3 ? WebhookJson.String(s3, "signature") : null;
        if (string.IsNullOrEmpty(timestampText) || string.IsNullOrEmpty(token) || string.IsNullOrEmpty(hex))
        {
            return new WebhookRejection(WebhookRejectionKind.Unsigned, "signature.timestamp, signature.token or signature.signature is missing");
        }

        if (!Verify(timestampText, token, hex))
        {
            return new WebhookRejection(WebhookRejectionKind.BadSignature, "the HMAC of timestamp and token does not match");
        }

        if (!long.TryParse(timestampText, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) || seconds > 253_402_300_799)
        {
            return WebhookRejection.Malformed("signature.timestamp is not Unix seconds");
        }

        DateTimeOffset signedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        DateTimeOffset now = _time.GetUtcNow();
        if ((now - signedAt).Duration() > _tolerance)
        {
            return new WebhookRejection(WebhookRejectionKind.Stale, string.Create(CultureInfo.InvariantCulture, $"signed at {signedAt:O}, more than {_tolerance} from now"));
        }

        if (WebhookJson.Property(root, "event-data") is not { ValueKind: JsonValueKind.Object } data)
        {
            return WebhookRejection.Malformed("event-data is missing");
        }

        WebhookBatch batch = new();
        if (ReadEvent(data, batch) is { } malformed)
        {
            return malformed;
        }

        switch (_tokens.TryAdd(token, signedAt + _tolerance))
        {
            case ReplayTokenMemory.Result.Seen:
                return new WebhookRejection(WebhookRejectionKind.Replayed, "the token was seen within the tolerance");
            case ReplayTokenMemory.Result.Full:
                return new WebhookRejection(WebhookRejectionKind.ReplayMemoryFull, "EmailGuard:Webhooks:Mailgun:MaxRememberedTokens tokens are remembered");
        }

        batch.OnNotAcknowledged = () => _tokens.Remove(token);
        return batch;
    }

    private bool Verify(string timestamp, string token, string hex)
    {
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(timestamp + token), expected);
        Span<byte> given = stackalloc byte[HMACSHA256.HashSizeInBytes];
        return hex.Length == HMACSHA256.HashSizeInBytes * 2
            && Convert.FromHexString(hex, given, out _, out int written) == System.Buffers.OperationStatus.Done
            && written == given.Length
            && CryptographicOperations.FixedTimeEquals(expected, given);
    }

    private static WebhookRejection? ReadEvent(JsonElement data, WebhookBatch batch)
    {
        string type = WebhookJson.String(data, "event") ?? string.Empty;
        EmailFeedbackKind kind;
        EmailBounceType bounce = EmailBounceType.None;
        switch (type)
        {
            case "failed":
                kind = EmailFeedbackKind.Bounced;
                bounce = WebhookJson.String(data, "severity") switch
                {
                    "permanent" => EmailBounceType.Permanent,
                    "temporary" => EmailBounceType.Transient,
                    _ => EmailBounceType.Undetermined,
                };
                break;
            case "complained":
                kind = EmailFeedbackKind.Complained;
                break;
            case "delivered":
                kind = EmailFeedbackKind.Delivered;
                break;
            case "unsubscribed":
                kind = EmailFeedbackKind.Unsubscribed;
                break;
            default:
                batch.Ignored.Add(type.Length == 0 ? "(none)" : type);
                return null;
        }

        string? id = WebhookJson.String(data, "id");
        string? recipient = WebhookJson.String(data, "recipient");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(recipient))
        {
            return WebhookRejection.Malformed("event-data.id or event-data.recipient is missing");
        }

        JsonElement? message = WebhookJson.Property(data, "message");
        JsonElement? headers = message is { } m ? WebhookJson.Property(m, "headers") : null;
        JsonElement? status = WebhookJson.Property(data, "delivery-status");
        batch.Events.Add(new EmailFeedbackEvent
        {
            Provider = ProviderName,
            ProviderEventId = id,
            ProviderMessageId = headers is { } h ? WebhookJson.String(h, "message-id") : null,
            Recipient = recipient,
            Kind = kind,
            BounceType = bounce,
            Timestamp = WebhookJson.UnixSeconds(data, "timestamp") ?? default,
            Attribution = WebhookJson.Attribution(WebhookJson.Property(data, "user-variables")),
            Detail = Detail(WebhookJson.String(data, "reason"), status is { } st ? WebhookJson.Scalar(st, "code") : null, status is { } sm ? WebhookJson.String(sm, "message") : null),
        });
        return null;
    }

    private static string? Detail(string? reason, string? code, string? message)
    {
        string text = string.Join(' ', new[] { reason, code, message }.Where(p => !string.IsNullOrEmpty(p)));
        return text.Length == 0 ? null : text;
    }
}
