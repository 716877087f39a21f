using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Alert delivery against receivers that misbehave: one that redirects elsewhere, one that answers with a body that never
/// ends, and the Slack URL whose path is the secret. Every server is local, on 127.0.0.1.
/// </summary>
public sealed class HostileAlertDeliveryTests
{
    private const string Secret = "test-secret-0123456789";

    [Theory]
    [InlineData(307)]
    [InlineData(308)]
    public async Task Webhook_RedirectToAnotherHost_NotFollowed_TheSignedAlertStaysWithTheConfiguredUrl(int status)
    {
        // Arrange: the configured receiver answers with a redirect to another origin. A 307 or 308 keeps method, body and
        // headers, so following it would hand the signed alert (and any party ids in it) to whoever the receiver names.
        await using AlertReceiver elsewhere = await AlertReceiver.StartAsync();
        await using HostileReceiver hostile = await HostileReceiver.StartAsync(app =>
            app.MapPost("/hook", () => Results.Redirect(new Uri(elsewhere.Address, "/webhook").ToString(), permanent: status == 308, preserveMethod: true)));
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = new Uri(hostile.Address, "/hook").ToString();
            o.WebhookSecret = Secret;
            o.MaxAttempts = 1;
        });
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        using AlertOutcomes outcomes = new(host.Services);

        // Act
        host.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:1", Title = "tripped" });
        await outcomes.WaitUntilAsync(() => metrics.Delivered + metrics.Failures > 0);

        // Assert
        metrics.Failures.Should().Be(1, "a redirect is not a delivery");
        metrics.Delivered.Should().Be(0);
        hostile.Requests.Should().Be(1);
        elsewhere.Alerts.Reader.TryRead(out _).Should().BeFalse("the redirect's target never sees the alert");
    }

    [Fact]
    public async Task Webhook_AnswerWithABodyThatNeverEnds_DeliveredOnItsStatus_TheBodyIsNotRead()
    {
        // Arrange: 200 at once, then a body that keeps coming. Reading it (the default for HttpClient.SendAsync) holds
        // the delivery loop until the timeout, buffers up to 2 GB, and turns a delivered alert into a retried one.
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using HostileReceiver hostile = await HostileReceiver.StartAsync(app => app.MapPost("/hook", async (HttpContext context) =>
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = "text/plain";
            await context.Response.Body.WriteAsync(new byte[64 * 1024]);
            await context.Response.Body.FlushAsync();
            await release.Task;
        }));
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = new Uri(hostile.Address, "/hook").ToString();
            o.WebhookSecret = Secret;
            o.MaxAttempts = 1;

            // Long enough for a loaded machine to answer the headers; reading the body would still end in this timeout, a failure.
            o.RequestTimeout = TimeSpan.FromSeconds(15);
        });
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        using AlertOutcomes outcomes = new(host.Services);

        // Act
        host.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:1", Title = "tripped" });
        await outcomes.WaitUntilAsync(() => metrics.Delivered + metrics.Failures > 0);
        release.TrySetResult();

        // Assert
        metrics.Delivered.Should().Be(1, "the receiver said 200; what it writes after that is not EmailGuard's to read");
        metrics.Failures.Should().Be(0);
    }

    [Fact]
    public async Task Slack_WebhookUrl_ItsSecretPathIsNeverLogged()
    {
        // Arrange: a Slack incoming-webhook URL is its own credential (hooks.slack.com/services/T…/B…/<secret>), and
        // IHttpClientFactory's default handlers log every request's URL at Information.
        const string SecretPath = "/services/T0001/B0001/s3cr3tTokenXyZ";
        await using HostileReceiver hostile = await HostileReceiver.StartAsync(app => app.MapPost(SecretPath, () => Results.Ok()));
        CapturingLoggerProvider logs = new();
        await using DashboardHost host = await DashboardHost.StartAsync(
            o =>
            {
                o.SlackWebhookUrl = new Uri(hostile.Address, SecretPath).ToString();
                o.MaxAttempts = 1;
            },
            services: s => s.AddSingleton<ILoggerProvider>(logs));
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        using AlertOutcomes outcomes = new(host.Services);

        // Act
        host.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:1", Title = "tripped" });
        await outcomes.WaitUntilAsync(() => metrics.Delivered + metrics.Failures > 0);

        // Assert
        metrics.Delivered.Should().Be(1);
        logs.Messages.Should().NotContain(m => m.Contains("s3cr3tTokenXyZ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Slack_WebhookUrl_ItsSecretPathIsInNoTrace_AndNoTraceContextGoesToTheReceiver()
    {
        // Arrange: HttpClient traces every request it sends, full URL included (the System.Net.Http activity source, and
        // the diagnostic listener Application Insights reads), for whatever exports the app's traces; a Slack
        // incoming-webhook URL's path is its secret. It also sent the app's trace context (traceparent) to the receiver.
        const string SecretPath = "/services/T0002/B0002/tr4c3dTokenQwE";
        ConcurrentQueue<string> traced = new();
        using ActivityListener listener = new()
        {
            ShouldListenTo = source => source.Name == "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => traced.Enqueue(activity.DisplayName + " " + string.Join(" ", activity.TagObjects.Select(t => $"{t.Key}={t.Value}"))),
        };
        ActivitySource.AddActivityListener(listener);
        ConcurrentQueue<string> traceparents = new();
        await using HostileReceiver hostile = await HostileReceiver.StartAsync(app =>
        {
            app.MapPost(SecretPath, (HttpContext context) =>
            {
                traceparents.Enqueue(context.Request.Headers["traceparent"].ToString());
                return Results.Ok();
            });
            app.MapGet("/control-c0ntr0l", () => Results.Ok());
        });
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.SlackWebhookUrl = new Uri(hostile.Address, SecretPath).ToString();
            o.MaxAttempts = 1;
        });
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        using AlertOutcomes outcomes = new(host.Services);

        // Act
        host.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:1", Title = "tripped" });
        await outcomes.WaitUntilAsync(() => metrics.Delivered + metrics.Failures > 0);
        using (HttpClient plain = new())
        {
            // The control: any other HttpClient request of the process is traced, path and all.
            (await plain.GetAsync(new Uri(hostile.Address, "/control-c0ntr0l"))).EnsureSuccessStatusCode();
        }

        // Assert
        metrics.Delivered.Should().Be(1);
        traced.Should().Contain(t => t.Contains("/control-c0ntr0l", StringComparison.Ordinal), "the listener hears HttpClient's traces");
        traced.Should().NotContain(t => t.Contains("tr4c3dTokenQwE", StringComparison.Ordinal));
        traceparents.Should().ContainSingle().Which.Should().BeEmpty();
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\u2028")]
    public async Task Slack_PartyIdWithALineBreak_StaysOnTheAlertsLine_NoForgedLine(string lineBreak)
    {
        // Arrange: a user id (an app's callers choose it, e.g. a sign-up name) and the operator name that flagged it carry a
        // line break and a line formatted as the bot's own alerts are. Slack showed it as a line of its own.
        const string Forged = "*[Critical] EmailGuard: the store was breached, rotate the keys at https://rotate.example*";
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.SlackWebhookUrl = new Uri(receiver.Address, "/slack").ToString();
            o.MaxAttempts = 1;
        });

        // Act
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(
            EmailGuardPartyType.User, "bob" + lineBreak + Forged, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "ops" + lineBreak + Forged);
        AlertReceiver.Received slack = await receiver.NextAsync("slack");

        // Assert: the title's line and the text's line, nothing more; the values are still there, on their lines.
        string text = System.Text.Json.JsonDocument.Parse(slack.Body).RootElement.GetProperty("text").GetString()!;
        string[] lines = text.Split(['\n', '\r', '\u2028', '\u2029']);
        lines.Should().HaveCount(2);
        lines[0].Should().StartWith("*[").And.Contain("User `bob ").And.Contain("rotate.example");
        lines.Should().NotContain(l => l.StartsWith("*[Critical]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DashboardLink_HostilePartyId_PercentEncoded_NoQueryParameterNoSlackControlNoLineAdded()
    {
        // Arrange: a tenant id that would end a Slack link ('|', '>'), page the channel, add a query parameter ('&type=User'),
        // leave the page ('#', '/../') and start a line, were it written into the link as it is.
        const string Id = "<!channel>|Click me> &type=User#x/../../admin?\n*[Critical] rotate*";
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.SlackWebhookUrl = new Uri(receiver.Address, "/slack").ToString();
            o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
            o.WebhookSecret = Secret;
            o.DashboardUrl = "https://admin.example.com/emailguard/";
            o.MaxAttempts = 1;
        });
        string expected = "https://admin.example.com/emailguard/flags?type=Tenant&id=" + Uri.EscapeDataString(Id);

        // Act
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, Id, EmailGuardFlagReasons.Manual);
        AlertReceiver.Received slack = await receiver.NextAsync("slack");
        AlertReceiver.Received webhook = await receiver.NextAsync("webhook");

        // Assert: the webhook carries the link; Slack shows it as one link on a line of its own, '&' escaped as Slack wants.
        System.Text.Json.JsonDocument.Parse(webhook.Body).RootElement.GetProperty("dashboardUrl").GetString().Should().Be(expected);
        expected.Should().NotContainAny(["<", ">", "|", "#", "\n", "&type=User", "/../"]);
        string text = System.Text.Json.JsonDocument.Parse(slack.Body).RootElement.GetProperty("text").GetString()!;
        string[] lines = text.Split('\n');
        lines.Should().HaveCount(3);
        lines[2].Should().Be("<" + expected.Replace("&", "&amp;", StringComparison.Ordinal) + "|Open in the dashboard>");
        text.Should().NotContain("<!channel>");
    }

    [Fact]
    public async Task Slack_PartyIdWithMrkdwn_RendersLiterallyInACodeSpan_NothingOfItFormats()
    {
        // Arrange: Slack has no escape for its formatting characters, so a user id could bold, strike and emoji its way
        // into an alert that reads as something else ("RESOLVED", a green check), and a backtick could end a code span.
        const string Id = "bob* *RESOLVED: all clear* _ignore_ ~this~ :white_check_mark: `x` & <!here>";
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.SlackWebhookUrl = new Uri(receiver.Address, "/slack").ToString();
            o.MaxAttempts = 1;
        });

        // Act
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.User, Id, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "*ops*");
        AlertReceiver.Received slack = await receiver.NextAsync("slack");

        // Assert: the id whole in one code span, its backticks replaced so that the span holds; nothing of it outside one.
        string text = System.Text.Json.JsonDocument.Parse(slack.Body).RootElement.GetProperty("text").GetString()!;
        text.Should().Contain("User `bob* *RESOLVED: all clear* _ignore_ ~this~ :white_check_mark: \u02CBx\u02CB &amp; &lt;!here&gt;` flagged: `high_bounce_rate`");
        text.Should().Contain(", by `*ops*`.");
        string outsideCode = System.Text.RegularExpressions.Regex.Replace(text, "`[^`]*`", string.Empty);
        outsideCode.Should().NotContainAny(["RESOLVED", "ignore", "~", "white_check_mark", "ops", "here"]);
    }

    [Fact]
    public async Task Webhook_PartyIdWithMrkdwn_CarriedAsItIs_NoMarkupAdded()
    {
        // Arrange: the signed webhook is JSON for a program; it formats nothing, so it gets the id exactly.
        const string Id = "bob* *RESOLVED* `x` & <!here>";
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
            o.WebhookSecret = Secret;
            o.MaxAttempts = 1;
        });

        // Act
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.User, Id, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "*ops*");
        AlertReceiver.Received webhook = await receiver.NextAsync("webhook");

        // Assert
        System.Text.Json.JsonElement alert = System.Text.Json.JsonDocument.Parse(webhook.Body).RootElement;
        alert.GetProperty("title").GetString().Should().Be($"User {Id} flagged: high_bounce_rate");
        alert.GetProperty("text").GetString().Should().StartWith("Until ").And.Contain(", by *ops*. Review");
        alert.GetProperty("details").GetProperty("partyId").GetString().Should().Be(Id);
    }

    [Fact]
    public async Task Webhook_TheAppsHttpHandlerThrowsItsOwnException_CountedAsAFailure_TheLoopAndTheAppGoOn()
    {
        // Arrange: an app whose HttpClient defaults add a resilience handler (the Aspire service defaults do), which
        // answers a receiver that hangs with an exception of its own, neither HttpRequestException nor a cancellation.
        // It escaped the delivery loop: no alert was delivered after it, and the host stopped.
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        int rejections = 1;
        await using DashboardHost host = await DashboardHost.StartAsync(
            o =>
            {
                o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
                o.WebhookSecret = Secret;
                o.MaxAttempts = 1;
            },
            services: s => s.ConfigureHttpClientDefaults(b => b.AddHttpMessageHandler(() => new RejectingHandler(() => Interlocked.Decrement(ref rejections) >= 0))));
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        IEmailGuardAlerts alerts = host.Services.GetRequiredService<IEmailGuardAlerts>();
        using AlertOutcomes outcomes = new(host.Services);

        // Act
        alerts.Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:1", Title = "first" });
        await outcomes.WaitUntilAsync(() => metrics.Failures > 0);
        alerts.Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:2", Title = "second" });
        await outcomes.WaitUntilAsync(() => metrics.Delivered > 0);

        // Assert
        metrics.Failures.Should().Be(1);
        (await receiver.NextAsync("webhook")).Text.Should().Contain("second");
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested.Should().BeFalse();
    }

    [Fact]
    public async Task Webhook_ReceiverDown_OneAlertUsesItsRetries_TheNextAreTriedOnceUntilOneGetsThrough()
    {
        // Arrange: a receiver that answers 503 to everything, then recovers.
        bool up = false;
        await using HostileReceiver hostile = await HostileReceiver.StartAsync(app => app.MapPost("/hook", () => Volatile.Read(ref up) ? Results.Ok() : Results.StatusCode(503)));
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = new Uri(hostile.Address, "/hook").ToString();
            o.WebhookSecret = Secret;
            o.MaxAttempts = 4;
            o.RetryDelay = TimeSpan.FromMilliseconds(1);
        });
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        using AlertOutcomes outcomes = new(host.Services);
        IEmailGuardAlerts alerts = host.Services.GetRequiredService<IEmailGuardAlerts>();

        // Act: three alerts while it is down, then one after it recovered, then one more.
        for (int i = 0; i < 3; i++)
        {
            alerts.Raise(new EmailGuardAlert { Kind = $"app_breaker_{i}", Condition = $"breaker:{i}", Title = "tripped" });
        }

        await outcomes.WaitUntilAsync(() => metrics.Failures == 3);
        int whileDown = hostile.Requests;
        Volatile.Write(ref up, true);
        alerts.Raise(new EmailGuardAlert { Kind = "app_breaker_3", Condition = "breaker:3", Title = "tripped" });
        await outcomes.WaitUntilAsync(() => metrics.Delivered == 1);
        Volatile.Write(ref up, false);
        alerts.Raise(new EmailGuardAlert { Kind = "app_breaker_4", Condition = "breaker:4", Title = "tripped" });
        await outcomes.WaitUntilAsync(() => metrics.Failures == 4);

        // Assert
        whileDown.Should().Be(4 + 1 + 1, "the first alert is tried 4 times; once it failed them all, the next are tried once each");
        hostile.Requests.Should().Be(whileDown + 1 + 4, "a delivery ends the outage: the alert after it has its retries again");
    }

    /// <summary>Throws as a resilience handler does when its timeout or circuit breaker rejects a request, then lets requests through.</summary>
    private sealed class RejectingHandler(Func<bool> reject) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => reject() ? throw new RejectedException() : base.SendAsync(request, cancellationToken);

        private sealed class RejectedException() : Exception("The operation didn't complete within the allowed timeout of '00:00:10'.");
    }

    /// <summary>A local server whose endpoints the test writes, counting the requests it gets.</summary>
    private sealed class HostileReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private HostileReceiver(WebApplication app) => _app = app;

        public Uri Address { get; private set; } = null!;

        public int Requests => Volatile.Read(ref _requests);

        public static async Task<HostileReceiver> StartAsync(Action<WebApplication> endpoints)
        {
            WebApplicationBuilder builder = WebApplication.CreateBuilder();
            builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
            builder.Logging.ClearProviders();
            WebApplication app = builder.Build();
            HostileReceiver receiver = new(app);
            app.Use((context, next) =>
            {
                Interlocked.Increment(ref receiver._requests);
                return next(context);
            });
            endpoints(app);
            await app.StartAsync();
            receiver.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First());
            return receiver;
        }

        public async ValueTask DisposeAsync()
        {
            using CancellationTokenSource stop = new(TimeSpan.FromSeconds(5));
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }
    }
}
