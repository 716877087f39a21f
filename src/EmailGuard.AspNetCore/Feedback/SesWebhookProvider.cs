using System.Globalization;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Amazon SES feedback through an SNS HTTPS subscription. Every message is verified (signature versions 1 and 2,
/// against a certificate fetched only from an SNS host) and must come from an allowed topic. A subscription is
/// confirmed only after its message verified, and only at an SNS host.
/// </summary>
internal sealed partial class SesWebhookProvider(
    SesWebhookOptions options,
    SnsCertificateCache certificates,
    IHttpClientFactory clients,
    TimeProvider time,
    ILogger logger) : WebhookProvider
{
    private readonly HashSet<string> _topics = new(options.TopicArns, StringComparer.Ordinal);

    public override string Name => SesNotificationReader.ProviderName;

    public override async ValueTask<WebhookResult> ReadAsync(HttpContext context, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        SnsEnvelope? envelope;
        string? error;
        bool unsigned;
        using (JsonDocument document = WebhookJson.Parse(body))
        {
            envelope = SnsEnvelope.Read(document.RootElement, out error, out unsigned);
        }

        if (envelope is null)
        {
            return unsigned ? new WebhookRejection(WebhookRejectionKind.Unsigned, error!) : WebhookRejection.Malformed(error!);
        }

        if (!SnsHosts.IsTrusted(envelope.SigningCertUrl, requirePem: true, out Uri? certificateUrl))
        {
            return new WebhookRejection(WebhookRejectionKind.UntrustedCertificateUrl, $"SigningCertURL '{envelope.SigningCertUrl}'");
        }

        Uri? subscribeUrl = null;
        if (envelope.Type != SnsEnvelope.Notification && !SnsHosts.IsTrusted(envelope.SubscribeUrl, requirePem: false, out subscribeUrl))
        {
            return new WebhookRejection(WebhookRejectionKind.UntrustedCertificateUrl, $"SubscribeURL '{envelope.SubscribeUrl}'");
        }

        // Checked before the certificate is fetched, so messages from foreign topics cost no fetch.
        if (!_topics.Contains(envelope.TopicArn))
        {
            return new WebhookRejection(WebhookRejectionKind.TopicNotAllowed, $"TopicArn '{envelope.TopicArn}'");
        }

        HashAlgorithmName? hash = envelope.SignatureVersion switch
        {
#pragma warning disable CA5350 // SNS signature version 1 is SHA1withRSA; verifying what SNS sends is not a choice of algorithm.
            "1" => HashAlgorithmName.SHA1,
#pragma warning restore CA5350
            "2" => HashAlgorithmName.SHA256,
            _ => null,
        };
        if (hash is null)
        {
            return new WebhookRejection(WebhookRejectionKind.BadSignature, $"SignatureVersion '{envelope.SignatureVersion}' is not 1 or 2");
        }

        if (options.RequireSignatureVersion2 && hash != HashAlgorithmName.SHA256)
        {
            return new WebhookRejection(WebhookRejectionKind.BadSignature, "SignatureVersion '1' is refused: EmailGuard:Webhooks:Ses:RequireSignatureVersion2 is on");
        }

        (byte[]? publicKey, string? fetchError) = await certificates.GetAsync(certificateUrl!, cancellationToken).ConfigureAwait(false);
        if (publicKey is null)
        {
            return new WebhookRejection(WebhookRejectionKind.CertificateUnavailable, fetchError ?? "no certificate");
        }

        if (!Verify(publicKey, envelope, hash.Value))
        {
            return new WebhookRejection(WebhookRejectionKind.BadSignature, $"the SNS signature of message '{envelope.MessageId}' does not verify");
        }

        await certificates.VerifiedAsync(certificateUrl!, cancellationToken).ConfigureAwait(false);

        WebhookBatch batch = new();
        switch (envelope.Type)
        {
            case SnsEnvelope.SubscriptionConfirmation:
                if (options.ConfirmSubscriptions)
                {
                    batch.AfterRecording = ct => ConfirmAsync(envelope, subscribeUrl!, ct);
                }
                else
                {
                    Log.SubscriptionNotConfirmed(logger, LogValue.Of(envelope.TopicArn));
                }

                return batch;
            case SnsEnvelope.UnsubscribeConfirmation:
                Log.Unsubscribed(logger, LogValue.Of(envelope.TopicArn));
                return batch;
            default:
                if (!DateTimeOffset.TryParse(envelope.Timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset signedAt))
                {
                    return WebhookRejection.Malformed($"Timestamp '{envelope.Timestamp}' is not a date");
                }

                if (SesNotificationReader.Read(envelope.Message, envelope, batch) is { } malformed)
                {
                    return malformed;
                }

                // A replay: its event id may be past deduplication by now (see SesWebhookOptions.MaxMessageAge). It is
                // authentic, and SNS retries a message with the Timestamp it signed, so it is acknowledged, not recorded.
                return (time.GetUtcNow() - signedAt).Duration() > options.MaxMessageAge
                    ? batch.DropAsStale(string.Create(CultureInfo.InvariantCulture, $"signed at {signedAt:O}, more than {options.MaxMessageAge} from now"))
                    : batch;
        }
    }

    private static bool Verify(byte[] publicKey, SnsEnvelope envelope, HashAlgorithmName hash)
    {
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(envelope.Signature);
        }
        catch (FormatException)
        {
            return false;
        }

        using RSA rsa = RSA.Create();
        try
        {
            rsa.ImportSubjectPublicKeyInfo(publicKey, out _);
            return rsa.VerifyData(envelope.StringToSign(), signature, hash, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private async ValueTask<WebhookRejection?> ConfirmAsync(SnsEnvelope envelope, Uri subscribeUrl, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new CancellationTokenSource(options.FetchTimeout, time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            HttpClient client = clients.CreateClient(EmailGuardWebhookOptions.SnsHttpClientName);
            using HttpResponseMessage response = await client.GetAsync(subscribeUrl, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return new WebhookRejection(WebhookRejectionKind.ConfirmationFailed, $"{subscribeUrl.Host} answered {(int)response.StatusCode}");
            }
        }
        catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException or IOException)
        {
            return new WebhookRejection(WebhookRejectionKind.ConfirmationFailed, $"{subscribeUrl.Host}: {exception.GetType().Name}");
        }

        string shownTopicArn = LogValue.Of(envelope.TopicArn);
        Log.SubscriptionConfirmed(logger, shownTopicArn);
        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1766, EventName = "SnsSubscriptionConfirmed", Level = LogLevel.Information,
            Message = "The SNS subscription to topic '{TopicArn}' was confirmed; SES feedback from it will now arrive.")]
        public static partial void SubscriptionConfirmed(ILogger logger, string topicArn);

        [LoggerMessage(EventId = 1767, EventName = "SnsSubscriptionNotConfirmed", Level = LogLevel.Warning,
            Message = "A verified SNS subscription confirmation for topic '{TopicArn}' was acknowledged but not confirmed, because EmailGuard:Webhooks:Ses:ConfirmSubscriptions is false; confirm it in the SNS console.")]
        public static partial void SubscriptionNotConfirmed(ILogger logger, string topicArn);

        [LoggerMessage(EventId = 1768, EventName = "SnsUnsubscribed", Level = LogLevel.Warning,
            Message = "SNS says the subscription to topic '{TopicArn}' was removed; SES feedback from it will stop.")]
        public static partial void Unsubscribed(ILogger logger, string topicArn);
    }
}
