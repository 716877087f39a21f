using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Delivers queued alerts to Slack and to the signed webhook, one at a time, with retries and a doubling backoff; and
/// once a period queues the summaries of suppressed repeats. Runs only in the background: a dead endpoint delays
/// other alerts, never a request or a send.
/// </summary>
internal sealed partial class AlertDispatcher(
    AlertPublisher publisher,
    AlertClaims claims,
    IHttpClientFactory httpClientFactory,
    IOptions<EmailGuardAlertOptions> options,
    IHostEnvironment? environment,
    TimeProvider timeProvider,
    AlertMetrics metrics,
    ILogger<AlertDispatcher> logger) : BackgroundService
{
    public const string HttpClientName = "EmailGuard.Alerts";

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly EmailGuardAlertOptions _options = options.Value;

    // The sinks whose last alert failed every attempt. Each alert is then tried once there until one gets through: a
    // dead receiver would otherwise hold every queued alert for all its retries and their doubling delays (80 s each
    // with the defaults, weeks at the limits), and a store outage raised behind ten of them would wait a quarter hour.
    // Only the delivery loop touches it.
    private readonly HashSet<string> _down = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeSpan flushInterval = _options.Period < TimeSpan.FromMinutes(1) ? _options.Period : TimeSpan.FromMinutes(1);
        Task<bool>? waiting = null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                waiting ??= publisher.Channel.Reader.WaitToReadAsync(stoppingToken).AsTask();
                Task tick = Task.Delay(flushInterval, timeProvider, stoppingToken);
                await Task.WhenAny(waiting, tick).ConfigureAwait(false);
                if (waiting.IsCompleted)
                {
                    if (!await waiting.ConfigureAwait(false))
                    {
                        return;
                    }

                    waiting = null;
                }

                publisher.FlushSummaries();
                while (publisher.TryTakeNext(out QueuedAlert? alert))
                {
                    if (await claims.ShouldSendAsync(alert.Alert, stoppingToken).ConfigureAwait(false))
                    {
                        if (!await DeliverAsync(alert, stoppingToken).ConfigureAwait(false))
                        {
                            // Claimed and sent nowhere: the other instances must not count their alert of it as a repeat.
                            await claims.ReleaseAsync(alert.Alert, stoppingToken).ConfigureAwait(false);
                        }
                    }
                    else
                    {
                        metrics.RecordSuppressed();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping; what is still queued is lost, and that is logged by nobody on purpose: alerts are best effort.
        }
    }

    /// <summary>Sends the alert to every configured sink; whether one of them took it (or none is configured).</summary>
    private async Task<bool> DeliverAsync(QueuedAlert alert, CancellationToken cancellationToken)
    {
        bool any = false, delivered = false;
        if (!string.IsNullOrEmpty(_options.SlackWebhookUrl))
        {
            any = true;
            delivered |= await SendWithRetriesAsync("slack", alert, () => SlackRequest(alert), cancellationToken).ConfigureAwait(false);
        }

        if (!string.IsNullOrEmpty(_options.WebhookUrl))
        {
            any = true;
            delivered |= await SendWithRetriesAsync("webhook", alert, () => WebhookRequest(alert), cancellationToken).ConfigureAwait(false);
        }

        return delivered || !any;
    }

    /// <summary>Whether the sink took the alert.</summary>
    private async Task<bool> SendWithRetriesAsync(string sink, QueuedAlert alert, Func<HttpRequestMessage> create, CancellationToken cancellationToken)
    {
        HttpClient client = httpClientFactory.CreateClient(HttpClientName);
        string? lastError = null;
        int maxAttempts = _down.Contains(sink) ? 1 : _options.MaxAttempts;
        for (int attempt = 1; attempt <= maxAttempts; attempt++)
        {
            bool retry;
            try
            {
                using HttpRequestMessage request = create();
                using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.RequestTimeout);
                // The status is the answer; the body is never read, so a receiver cannot hold the loop or fill memory with it.
                using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    metrics.RecordDelivered(sink);
                    _down.Remove(sink);
                    return true;
                }

                lastError = $"HTTP {(int)response.StatusCode}";
                retry = response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)response.StatusCode >= 500;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex)
            {
                // Whatever the client throws is a failed attempt, not only what HttpClient itself throws: the app's own
                // handlers run here too (ConfigureHttpClientDefaults), and a resilience handler answers a receiver that
                // hangs or keeps failing with its own exceptions (Polly's TimeoutRejectedException, BrokenCircuitException).
                // Let through, one ended the delivery loop, and with the host's default BackgroundServiceExceptionBehavior
                // the app. Only HttpClient's messages are repeated in the log: another's might carry the URL.
                lastError = ex switch
                {
                    OperationCanceledException => "timeout",
                    HttpRequestException => ex.Message,
                    _ => ex.GetType().Name,
                };
                retry = true;
            }

            if (!retry || attempt == maxAttempts)
            {
                break;
            }

            string? shownError = LogValue.Of(lastError);
            Log.DeliveryRetry(logger, sink, alert.Alert.Kind, attempt, shownError);
            TimeSpan delay = TimeSpan.FromTicks(_options.RetryDelay.Ticks * (1L << Math.Min(attempt - 1, 16)));
            await Task.Delay(delay, timeProvider, cancellationToken).ConfigureAwait(false);
        }

        metrics.RecordFailure(sink);
        Log.DeliveryFailed(logger, sink, alert.Alert.Kind, LogValue.Of(alert.Alert.Condition), LogValue.Of(lastError));
        if (maxAttempts > 1 && _down.Add(sink))
        {
            Log.SinkDown(logger, sink, _options.MaxAttempts);
        }

        return false;
    }

    private string Source => _options.Source ?? environment?.ApplicationName ?? "EmailGuard";

    /// <summary>The link to the alert's party on the dashboard, or to its overview; null when no <see cref="EmailGuardAlertOptions.DashboardUrl"/> is set.</summary>
    private string? DashboardLink(EmailGuardAlert alert)
        => _options.DashboardUrl is { Length: > 0 } dashboard ? DashboardLinks.Absolute(dashboard, alert.DashboardPath ?? DashboardLinks.Overview) : null;

    private HttpRequestMessage SlackRequest(QueuedAlert queued)
    {
        EmailGuardAlert alert = queued.Alert;
        StringBuilder text = new();
        // The title is one line whoever raised the alert: a line break in it would start a line Slack shows as the bot's own.
        // EmailGuard's own alerts put each party id, reason or name in a code span, so that it cannot format the alert.
        text.Append(CultureInfo.InvariantCulture, $"*[{alert.Severity}] {AlertText.OneLine(alert.FormattedTitle.Slack)}* ({AlertMessage.SlackEscape(Source)})");
        if (alert.Text is { Length: > 0 })
        {
            text.Append('\n').Append(alert.FormattedText.Slack);
        }

        if (queued.Suppressed > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n_{queued.Suppressed} similar alerts were suppressed since {queued.SuppressedSince:u}._");
        }

        if (DashboardLink(alert) is { } link)
        {
            // Inside <…|…> Slack ends the URL at '|' and reads &, < and > as everywhere; a party id is percent-encoded already.
            text.Append("\n<").Append(AlertMessage.SlackEscape(link).Replace("|", "%7C", StringComparison.Ordinal)).Append("|Open in the dashboard>");
        }

        string body = JsonSerializer.Serialize(new { text = text.ToString() }, s_json);
        return new HttpRequestMessage(HttpMethod.Post, _options.SlackWebhookUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    }

    private HttpRequestMessage WebhookRequest(QueuedAlert queued)
    {
        EmailGuardAlert alert = queued.Alert;
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(
            new
            {
                id = queued.Id,
                kind = alert.Kind,
                condition = alert.Condition,
                severity = alert.Severity.ToString().ToLowerInvariant(),
                title = alert.Title,
                text = alert.Text,
                at = queued.At,
                source = Source,
                suppressed = queued.Suppressed,
                suppressedSince = queued.SuppressedSince,
                details = alert.Details,
                dashboardUrl = DashboardLink(alert),
            },
            s_json);
        long timestamp = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        HttpRequestMessage request = new(HttpMethod.Post, _options.WebhookUrl) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(EmailGuardWebhookSignature.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add(EmailGuardWebhookSignature.SignatureHeader, EmailGuardWebhookSignature.Compute(_options.WebhookSecret!, timestamp, body));
        return request;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1910, EventName = "AlertDeliveryRetry", Level = LogLevel.Information,
            Message = "Delivering a {Kind} alert to {Sink} failed on attempt {Attempt} ({Error}); it is tried again.")]
        public static partial void DeliveryRetry(ILogger logger, string sink, string kind, int attempt, string? error);

        [LoggerMessage(EventId = 1911, EventName = "AlertDeliveryFailed", Level = LogLevel.Warning,
            Message = "A {Kind} alert ({Condition}) could not be delivered to {Sink} and is given up: {Error}.")]
        public static partial void DeliveryFailed(ILogger logger, string sink, string kind, string condition, string? error);

        [LoggerMessage(EventId = 2931, EventName = "AlertSinkDown", Level = LogLevel.Warning,
            Message = "Alerts to {Sink} failed {MaxAttempts} attempts; each further alert is tried there once, without retries, until one is delivered.")]
        public static partial void SinkDown(ILogger logger, string sink, int maxAttempts);
    }
}
