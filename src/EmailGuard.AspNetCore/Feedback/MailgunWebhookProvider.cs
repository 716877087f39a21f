using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Mailgun's JSON webhooks: <c>{"signature":{"timestamp","token","signature"},"event-data":{...}}</c>, signed with
/// hex HMAC-SHA256(webhook signing key, timestamp + token). A signed timestamp outside the tolerance is acknowledged and
/// its event not recorded.
/// </summary>
/// <remarks>
/// Mailgun signs the timestamp and token, not the body: whoever captures one signed request can put its signature on
/// a body of their own (a forged complaint that suppresses a customer) within the tolerance. So a token is good for
/// one body only, on every instance. The key-value store (<see cref="IEmailGuardKeyValueStore"/>, shared by every
/// instance on Redis) remembers each token with a hash of its body: that one memory is the only replay check, so the
/// same request gets the same answer on whichever instance it lands. The same token with the same body is Mailgun
/// retrying, and goes through (the event id deduplicates it); the same token with another body is refused as a
/// replay. When the store does not answer, the request is answered 503 and Mailgun retries it later.
/// </remarks>
internal sealed class MailgunWebhookProvider : WebhookProvider
{
    public const string ProviderName = "mailgun";

    private readonly byte[] _key;
    private readonly TimeSpan _tolerance;
    private readonly TimeProvider _time;
    private readonly IEmailGuardKeyValueStore _seenTokens;
    private readonly TimeSpan _storeTimeout;

    public MailgunWebhookProvider(MailgunWebhookOptions options, TimeProvider time, IEmailGuardKeyValueStore seenTokens, TimeSpan storeTimeout)
    {
        _seenTokens = seenTokens;
        _storeTimeout = storeTimeout;
        _key = Encoding.UTF8.GetBytes(options.SigningKey ?? string.Empty);
        _tolerance = options.TimestampTolerance;
        _time = time;
    }

    public override string Name => ProviderName;

    public override async ValueTask<WebhookResult> ReadAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        WebhookResult result;
        string? token;
        using (JsonDocument document = WebhookJson.Parse(body))
        {
            result = Read(document.RootElement, out token);
        }

        if (result.Batch is null || token is null)
        {
            return result;
        }

        WebhookRejection? reused = await ClaimTokenAsync(token, body, cancellationToken).ConfigureAwait(false);
        return reused is { } rejection ? rejection : result;
    }

    /// <summary>Claims the token for this body on every instance; a rejection when another body has it, or the store cannot say.</summary>
    private async ValueTask<WebhookRejection?> ClaimTokenAsync(string token, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        // The in-memory key-value store keeps keys under "webhook-token:" in a pool that refuses rather than forgets a live one.
        string key = "webhook-token:mailgun:" + StoreKeyEncoding.Hash(token);
        string bodyHash = Convert.ToBase64String(SHA256.HashData(body.Span));
        string? existing;
        try
        {
            // Twice the tolerance: a token is refused as stale before its entry can expire.
            existing = await BoundedCall.WaitAsync(
                _seenTokens.GetOrAddAsync(key, bodyHash, _tolerance * 2, cancellationToken), _storeTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new WebhookRejection(WebhookRejectionKind.ReplayMemoryUnavailable, "the store of seen tokens did not answer: " + ex.GetType().Name);
        }

        return existing is null || string.Equals(existing, bodyHash, StringComparison.Ordinal)
            ? null
            : new WebhookRejection(WebhookRejectionKind.Replayed, "the token was already used with another body");
    }

    private WebhookResult Read(JsonElement root, out string? token)
    {
        token = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return WebhookRejection.Malformed("the body is not a JSON object");
        }

        JsonElement? signature = WebhookJson.Property(root, "signature");
        string? timestampText = signature is { } s1 ? WebhookJson.Scalar(s1, "timestamp") : null;
        token = signature is { } s2 ? WebhookJson.String(s2, "token") : null;
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

        if (WebhookJson.Property(root, "event-data") is not { ValueKind: JsonValueKind.Object } data)
        {
            return WebhookRejection.Malformed("event-data is missing");
        }

        WebhookBatch batch = new();
        if (ReadEvent(data, batch) is { } malformed)
        {
            return malformed;
        }

        DateTimeOffset signedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if ((_time.GetUtcNow() - signedAt).Duration() > _tolerance)
        {
            // Signed, and Mailgun retries with the timestamp it signed: acknowledged, not recorded. Its token is not
            // claimed: the memory of tokens holds those of the tolerance only.
            token = null;
            return batch.DropAsStale(string.Create(CultureInfo.InvariantCulture, $"signed at {signedAt:O}, more than {_tolerance} from now"));
        }

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
        bool suppressed = false;
        bool rejectedForMessage = false;
        switch (type)
        {
            case "failed" when SuppressionList(WebhookJson.String(data, "reason")) is { } list:
                // Mailgun did not send it: the address is on the domain's bounce, complaint or unsubscribe list.
                (kind, bounce) = list;
                suppressed = true;
                break;
            case "failed":
                kind = EmailFeedbackKind.Bounced;
                bounce = WebhookJson.String(data, "severity") switch
                {
                    "permanent" => EmailBounceType.Permanent,
                    "temporary" => EmailBounceType.Transient,
                    _ => EmailBounceType.Undetermined,
                };

                // "espblock": the recipient's mail service blocked the message, as spam or by its policy (Mailgun's
                // failure reasons: generic, bounce, espblock, greylisted, blacklisted, suppress-*, old, hardfail; its
                // help center's "Classified Bounces List" files "554 5.7.1 Message rejected due to local policy" as
                // ESPBLOCK). The message was refused, not the mailbox.
                rejectedForMessage = WebhookJson.String(data, "reason") == "espblock";
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
            SuppressedByProvider = suppressed,
            RejectedForMessage = rejectedForMessage,
            Timestamp = WebhookJson.UnixSeconds(data, "timestamp") ?? default,
            Tags = WebhookJson.Tags(WebhookJson.Property(data, "user-variables")),
            Detail = WebhookJson.Detail(WebhookJson.String(data, "reason"), status is { } st ? WebhookJson.Scalar(st, "code") : null, status is { } sm ? WebhookJson.String(sm, "message") : null),
        });
        return null;
    }

    /// <summary>
    /// The list a <c>failed</c> event's <c>reason</c> names when Mailgun dropped the message without trying it
    /// (delivery-status codes 605, 607 and 606); null for a delivery that was tried.
    /// </summary>
    private static (EmailFeedbackKind Kind, EmailBounceType Bounce)? SuppressionList(string? reason) => reason switch
    {
        "suppress-bounce" => (EmailFeedbackKind.Bounced, EmailBounceType.Permanent),
        "suppress-complaint" => (EmailFeedbackKind.Complained, EmailBounceType.None),
        "suppress-unsubscribe" => (EmailFeedbackKind.Unsubscribed, EmailBounceType.None),
        _ => null,
    };
}
