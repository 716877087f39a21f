using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Runs one provider's webhook route: reads the body under the size limit, lets the provider verify and parse it, and
/// records each event. Bad input records nothing and answers 400, 401 or 413; a store outage answers 503 so the
/// provider retries; an authentic event of a type EmailGuard does not use is acknowledged (200) and logged, because
/// providers retry every non-2xx answer.
/// </summary>
internal sealed partial class WebhookEndpoint(
    WebhookProvider provider,
    IEmailGuardFeedback feedback,
    int maxBodyBytes,
    WebhookMetrics metrics,
    ILogger logger)
{
    /// <summary>How long a provider is asked to wait after a store outage.</summary>
    private const int RetryAfterSeconds = 60;

    public string ProviderName => provider.Name;

    public async Task HandleAsync(HttpContext context)
    {
        CancellationToken cancellationToken = context.RequestAborted;
        if (provider.CheckHeaders(context) is { } early)
        {
            Reject(context, early);
            return;
        }

        ReadOnlyMemory<byte>? body;
        try
        {
            body = await WebhookBody.ReadAsync(context.Request, maxBodyBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException exception)
        {
            // The server's own limits (Kestrel's MaxRequestBodySize, a broken chunked encoding) end the read.
            Reject(context, exception.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? new WebhookRejection(WebhookRejectionKind.Oversized, exception.Message)
                : WebhookRejection.Malformed(exception.Message));
            return;
        }

        if (body is not { } bytes)
        {
            Reject(context, new WebhookRejection(WebhookRejectionKind.Oversized, string.Create(CultureInfo.InvariantCulture, $"the body is larger than {maxBodyBytes} bytes")));
            return;
        }

        WebhookResult result;
        try
        {
            result = await provider.ReadAsync(context, bytes, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            Reject(context, WebhookRejection.Malformed("the body is not valid JSON"));
            return;
        }

        if (result.Rejection is { } rejection)
        {
            Reject(context, rejection);
            return;
        }

        await RecordAsync(context, result.Batch!, cancellationToken).ConfigureAwait(false);
    }

    private async Task RecordAsync(HttpContext context, WebhookBatch batch, CancellationToken cancellationToken)
    {
        foreach (string ignored in batch.Ignored)
        {
            string shownEvent = LogValue.Of(ignored);
            Log.EventIgnored(logger, provider.Name, shownEvent);
        }

        foreach (string skipped in batch.Skipped)
        {
            Log.EventSkipped(logger, provider.Name, LogValue.Of(skipped));
        }

        foreach (string tampered in batch.Tampered)
        {
            Log.EventTampered(logger, provider.Name, LogValue.Of(tampered));
        }

        foreach (string undated in batch.Undated)
        {
            Log.EventUndated(logger, provider.Name, LogValue.Of(undated));
        }

        if (batch.Stale is { } stale)
        {
            Log.StaleAcknowledged(logger, provider.Name, batch.StaleEvents, LogValue.Of(stale));
        }

        int recorded = 0;
        foreach (EmailFeedbackEvent item in batch.Events)
        {
            EmailFeedbackResult outcome;
            try
            {
                outcome = await feedback.RecordAsync(item, cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentException exception)
            {
                // Authentic but unusable (an invalid address, say): a retry would fail the same way, so it is acknowledged.
                Log.EventRefused(logger, provider.Name, LogValue.Of(item.ProviderEventId), LogValue.Of(exception.Message));
                continue;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // A webhook never answers 500: anything else the recorder throws is treated as an outage.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                Log.RecordFailed(logger, LogValue.Of(exception), provider.Name, LogValue.Of(item.ProviderEventId));
                StoreUnavailable(context, batch);
                return;
            }

            if (outcome.Outcome == EmailFeedbackOutcome.StoreUnavailable)
            {
                StoreUnavailable(context, batch);
                return;
            }

            recorded += outcome.Outcome == EmailFeedbackOutcome.Recorded ? 1 : 0;
        }

        if (batch.AfterRecording is { } after && await after(cancellationToken).ConfigureAwait(false) is { } failure)
        {
            Reject(context, failure);
            return;
        }

        Log.Accepted(logger, provider.Name, batch.Events.Count, recorded, batch.Ignored.Count);
        metrics.Request(provider.Name, batch.Stale is null ? "accepted" : "stale");
        context.Response.StatusCode = StatusCodes.Status200OK;
    }

    private void StoreUnavailable(HttpContext context, WebhookBatch batch)
    {
        Log.StoreUnavailable(logger, provider.Name);
        metrics.Request(provider.Name, "store_unavailable");
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
    }

    private void Reject(HttpContext context, WebhookRejection rejection)
    {
        string name = provider.Name;
        string detail = LogValue.Of(rejection.Detail);
        switch (rejection.Kind)
        {
            case WebhookRejectionKind.Unsigned: Log.Unsigned(logger, name, detail); break;
            case WebhookRejectionKind.BadSignature: Log.BadSignature(logger, name, detail); break;
            case WebhookRejectionKind.Replayed: Log.Replayed(logger, name, detail); break;
            case WebhookRejectionKind.Oversized: Log.Oversized(logger, name, detail); break;
            case WebhookRejectionKind.TopicNotAllowed: Log.TopicNotAllowed(logger, name, detail); break;
            case WebhookRejectionKind.UntrustedCertificateUrl: Log.UntrustedCertificateUrl(logger, name, detail); break;
            case WebhookRejectionKind.CertificateUnavailable: Log.CertificateUnavailable(logger, name, detail); break;
            case WebhookRejectionKind.ConfirmationFailed: Log.ConfirmationFailed(logger, name, detail); break;
            case WebhookRejectionKind.ReplayMemoryUnavailable: Log.ReplayMemoryUnavailable(logger, name, detail); break;
            default: Log.Malformed(logger, name, detail); break;
        }

        metrics.Request(name, rejection.MetricName);
        context.Response.StatusCode = rejection.StatusCode;
        if (rejection.StatusCode == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }
        else if (rejection.StatusCode == StatusCodes.Status401Unauthorized && provider.Name == PostmarkWebhookProvider.ProviderName)
        {
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"EmailGuard\"";
        }
    }
}
