using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

public sealed class AlertTests
{
    private const string Secret = "test-secret-0123456789";

    [Fact]
    public async Task Suspension_SignedWebhookAndSlack_ReceivedAndVerified()
    {
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.SlackWebhookUrl = new Uri(receiver.Address, "/slack").ToString()));

        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "<!channel> acme", EmailGuardFlagReasons.Manual, flaggedBy: "ops");

        AlertReceiver.Received webhook = await receiver.NextAsync("webhook");
        EmailGuardWebhookSignature.Verify(Secret, webhook.Timestamp, webhook.Signature, webhook.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)).Should().BeTrue();
        EmailGuardWebhookSignature.Verify("wrong-secret-0123456789", webhook.Timestamp, webhook.Signature, webhook.Body, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)).Should().BeFalse();
        byte[] tampered = [.. webhook.Body];
        tampered[^2] ^= 1;
        EmailGuardWebhookSignature.Verify(Secret, webhook.Timestamp, webhook.Signature, tampered, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)).Should().BeFalse();
        using JsonDocument json = JsonDocument.Parse(webhook.Body);
        json.RootElement.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.Suspended);
        json.RootElement.GetProperty("severity").GetString().Should().Be("critical");
        json.RootElement.GetProperty("details").GetProperty("partyId").GetString().Should().Be("<!channel> acme");

        AlertReceiver.Received slack = await receiver.NextAsync("slack");
        string text = JsonDocument.Parse(slack.Body).RootElement.GetProperty("text").GetString()!;
        text.Should().Contain("suspended").And.Contain("&lt;!channel&gt; acme").And.NotContain("<!channel>");
    }

    [Fact]
    public async Task Suspension_ClearedAndSuspendedAgainWithinThePeriod_AlertsAgain_ARepeatWhileSuspendedDoesNot()
    {
        // Arrange
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver));
        IEmailGuardFlags flags = host.Services.GetRequiredService<IEmailGuardFlags>();

        // Act: one incident, suspended twice; cleared; a second incident.
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial-rogue", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial-rogue", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        (await flags.ClearAsync(EmailGuardPartyType.Tenant, "trial-rogue", clearedBy: "ops")).Should().Be(1);
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial-rogue", EmailGuardFlagReasons.Manual, flaggedBy: "ops");

        // Assert
        JsonElement first = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        JsonElement second = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        first.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.Suspended);
        second.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.Suspended, "the suspension after the clear is a new incident");
        second.GetProperty("suppressed").GetInt32().Should().Be(1, "the repeat while suspended was counted, and goes out with the next alert");
        host.Services.GetRequiredService<AlertMetrics>().Suppressed.Should().Be(1);
    }

    [Fact]
    public async Task Suspension_ExpiredAndSuspendedAgainWithinThePeriod_AlertsAgain()
    {
        // Arrange
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.Period = TimeSpan.FromHours(1)), time);
        IEmailGuardFlags flags = host.Services.GetRequiredService<IEmailGuardFlags>();

        // Act
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial-rogue", EmailGuardFlagReasons.Manual, TimeSpan.FromMinutes(10));
        JsonElement first = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        time.Advance(TimeSpan.FromMinutes(11));
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial-rogue", EmailGuardFlagReasons.Manual, TimeSpan.FromMinutes(10));

        // Assert
        JsonElement second = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        first.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.Suspended);
        second.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.Suspended, "the first suspension had ended");
    }

    [Fact]
    public void Gate_NewIncidentOfAKnownCondition_PassesWithinThePeriod_AndSpendsTheKindsBudget()
    {
        AlertGate gate = new(TimeSpan.FromMinutes(15), maxPerKind: 2);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        EmailGuardAlert Suspended(string party, bool newIncident) => EmailGuardAlert.Quoting(
            EmailGuardAlertKinds.Suspended, $"suspended:Tenant:{party}:manual", EmailGuardAlertSeverity.Critical,
            AlertMessage.Of($"Tenant {party} suspended"), AlertMessage.Verbatim(null), null, newIncident: newIncident);

        List<string> passed = [];
        foreach (EmailGuardAlert alert in new[] { Suspended("a", true), Suspended("a", false), Suspended("a", true), Suspended("a", true) })
        {
            if (gate.TryPass(alert, now, out EmailGuardAlert sent, out _, out _))
            {
                passed.Add(sent.Condition);
            }
        }

        passed.Should().Equal("suspended:Tenant:a:manual", "suspended:Tenant:a:manual", AlertGate.RollUpCondition(EmailGuardAlertKinds.Suspended, EmailGuardAlertSeverity.Critical));
    }

    [Fact]
    public async Task DashboardLink_NotSet_NoLinkInSlackOrWebhook_SetForAnAppsAlert_TheOverview()
    {
        // Arrange
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost without = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.SlackWebhookUrl = new Uri(receiver.Address, "/slack").ToString()));
        await using DashboardHost with = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.DashboardUrl = "https://admin.example.com/emailguard"));

        // Act
        await without.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual);
        JsonElement webhook = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        string slack = JsonDocument.Parse((await receiver.NextAsync("slack")).Body).RootElement.GetProperty("text").GetString()!;
        with.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert { Kind = "app_breaker", Condition = "breaker:1", Title = "tripped" });
        JsonElement appAlert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;

        // Assert
        webhook.GetProperty("dashboardUrl").ValueKind.Should().Be(JsonValueKind.Null);
        slack.Should().NotContain("Open in the dashboard").And.NotContain("http");
        appAlert.GetProperty("dashboardUrl").GetString().Should().Be("https://admin.example.com/emailguard");
    }

    [Theory]
    [InlineData("/emailguard")]
    [InlineData("emailguard")]
    [InlineData("javascript:alert(document.cookie)")]
    [InlineData("ftp://admin.example.com/emailguard")]
    [InlineData("https://ops:pw@admin.example.com/emailguard")]
    [InlineData("https://admin.example.com/emailguard?x=1")]
    [InlineData("https://admin.example.com/emailguard#top")]
    public void Options_DashboardUrlNotAnAbsoluteWebAddress_FailStartupNamingTheSetting(string url)
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddAlerts(o => o.DashboardUrl = url);
        using ServiceProvider provider = services.BuildServiceProvider();

        Action read = () => _ = provider.GetRequiredService<IOptions<EmailGuardAlertOptions>>().Value;

        read.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:Alerts:DashboardUrl:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("https://admin.example.com/emailguard")]
    [InlineData("http://intranet:8080/")]
    public void Options_DashboardUrlAbsoluteHttpOrHttps_Accepted(string url)
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddAlerts(o => o.DashboardUrl = url);
        using ServiceProvider provider = services.BuildServiceProvider();

        provider.GetRequiredService<IOptions<EmailGuardAlertOptions>>().Value.DashboardUrl.Should().Be(url);
    }

    [Fact]
    public async Task RatioBreakerTrip_RaisesBreakerTrippedAlert()
    {
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await StartAndSuspendBouncyAsync(receiver);

        List<string> kinds = [];
        JsonElement? tripped = null;
        for (int i = 0; i < 3 && tripped is null; i++)
        {
            JsonElement alert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
            kinds.Add(alert.GetProperty("kind").GetString()!);
            tripped = kinds[^1] == EmailGuardAlertKinds.BreakerTripped ? alert : null;
        }

        tripped.Should().NotBeNull($"a breaker_tripped alert follows the trip; got {string.Join(", ", kinds)}");
        tripped!.Value.GetProperty("title").GetString().Should().Be("Ratio breaker: User bouncy suspended (high_bounce_rate)");
        tripped.Value.GetProperty("condition").GetString().Should().Be("breaker_tripped:Ratio breaker: User bouncy suspended (high_bounce_rate)", "the kind once");
        tripped.Value.GetProperty("text").GetString().Should().Contain("bounce rate 5.00 %, complaint rate 0.000 % over 20 sends");
    }

    [Fact]
    public async Task RatioBreakerTrip_PagesOnce_NamingTheFlagItSet()
    {
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();

        // Act: one bounce in 20 sends (5 %) suspends the user; a sentinel raised after it closes the pages.
        await using DashboardHost host = await StartAndSuspendBouncyAsync(receiver, o => o.DashboardUrl = "https://admin.example.com/emailguard");
        host.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert
        {
            Kind = "sentinel",
            Condition = "sentinel",
            Severity = EmailGuardAlertSeverity.Info,
            Title = "sentinel",
            Text = "sentinel",
        });
        List<JsonElement> pages = [];
        for (JsonElement alert = default; alert.ValueKind == JsonValueKind.Undefined || alert.GetProperty("kind").GetString() != "sentinel";)
        {
            alert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
            pages.Add(alert);
        }

        // Assert: one page for the trip, critical as a suspension is, naming the flag it set and linking to it; the flag's
        // own event stays on the dashboard's event log.
        JsonElement page = pages.SkipLast(1).Should().ContainSingle($"one trip pages once; got {string.Join(", ", pages.Select(p => p.GetProperty("condition").GetString()))}").Which;
        page.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.BreakerTripped);
        page.GetProperty("severity").GetString().Should().Be("critical");
        page.GetProperty("title").GetString().Should().Be("Ratio breaker: User bouncy suspended (high_bounce_rate)");
        page.GetProperty("text").GetString().Should().Contain("bounce rate 5.00 %").And.Contain("It flagged User bouncy high_bounce_rate (suspended): review");
        page.GetProperty("details").GetProperty("partyType").GetString().Should().Be("User");
        page.GetProperty("details").GetProperty("partyId").GetString().Should().Be("bouncy");
        page.GetProperty("details").GetProperty("reason").GetString().Should().Be(EmailGuardFlagReasons.HighBounceRate);
        page.GetProperty("dashboardUrl").GetString().Should().Be("https://admin.example.com/emailguard/flags?type=User&id=bouncy");
        host.Services.GetRequiredService<DashboardEventLog>().Snapshot().Select(e => e.Kind).Should().Contain(DashboardEventKinds.Suspended);
    }

    [Fact]
    public async Task StoreOutageThenRecovery_AlertedAndLogged()
    {
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver));
        // What the resilience wrapper reports on this host's EmailGuard meter when a store call fails, then succeeds.
        Meter meter = host.Services.GetRequiredService<IMeterFactory>().Create(new MeterOptions(EmailGuardDiagnostics.MeterName));
        Counter<long> errors = meter.CreateCounter<long>("emailguard.store.errors");
        Histogram<double> duration = meter.CreateHistogram<double>("emailguard.store.duration");

        errors.Add(1, new KeyValuePair<string, object?>("error.type", "timeout"));
        errors.Add(1, new KeyValuePair<string, object?>("error.type", "timeout"));
        AlertReceiver.Received outage = await receiver.NextAsync("webhook");
        duration.Record(0.002, new KeyValuePair<string, object?>("emailguard.store.operation", "acquire"));
        AlertReceiver.Received recovered = await receiver.NextAsync("webhook");

        JsonDocument.Parse(outage.Body).RootElement.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.StoreOutage);
        JsonDocument.Parse(recovered.Body).RootElement.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.StoreRecovered);
        using HttpClient client = host.Client();
        string events = await client.GetStringAsync("/emailguard/events");
        events.Should().Contain("store_outage").And.Contain("store_recovered");
    }

    [Fact]
    public async Task StoreDownAgainAfterAStableRecovery_PagesAgainWithinThePeriod_AFlapRightAfterARecoveryDoesNot()
    {
        // Arrange: an hour's alert period, so that every outage below falls within the period of the first.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.Period = TimeSpan.FromHours(1)), time);
        Meter meter = host.Services.GetRequiredService<IMeterFactory>().Create(new MeterOptions(EmailGuardDiagnostics.MeterName));
        Counter<long> errors = meter.CreateCounter<long>("emailguard.store.errors");
        Histogram<double> duration = meter.CreateHistogram<double>("emailguard.store.duration");
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();

        // Act: an outage and its recovery; ten minutes of a store that answers; a second outage and its recovery.
        errors.Add(1, new KeyValuePair<string, object?>("error.type", "timeout"));
        string? first = Kind(await receiver.NextAsync("webhook"));
        duration.Record(0.002, new KeyValuePair<string, object?>("emailguard.store.operation", "acquire"));
        string? firstRecovery = Kind(await receiver.NextAsync("webhook"));
        time.Advance(TimeSpan.FromMinutes(10));
        errors.Add(1, new KeyValuePair<string, object?>("error.type", "timeout"));
        string? second = Kind(await receiver.NextAsync("webhook"));
        duration.Record(0.002, new KeyValuePair<string, object?>("emailguard.store.operation", "acquire"));
        string? secondRecovery = Kind(await receiver.NextAsync("webhook"));

        // A flap a minute after that recovery: counted for the summary, not paged.
        time.Advance(TimeSpan.FromMinutes(1));
        long suppressedBefore = metrics.Suppressed;
        errors.Add(1, new KeyValuePair<string, object?>("error.type", "timeout"));
        bool counted = await WaitUntilAsync(() => metrics.Suppressed > suppressedBefore);

        // Assert
        first.Should().Be(EmailGuardAlertKinds.StoreOutage);
        firstRecovery.Should().Be(EmailGuardAlertKinds.StoreRecovered);
        second.Should().Be(EmailGuardAlertKinds.StoreOutage, "the store had answered for ten minutes: this outage is a new incident");
        secondRecovery.Should().Be(EmailGuardAlertKinds.StoreRecovered, "the end of an incident that paged pages too");
        counted.Should().BeTrue("an outage a minute after a recovery is the same flapping store, counted for the summary");

        static string? Kind(AlertReceiver.Received received) => JsonDocument.Parse(received.Body).RootElement.GetProperty("kind").GetString();

        // The gate's decision comes on the dispatcher's thread; bounded far above the milliseconds it takes.
        static async Task<bool> WaitUntilAsync(Func<bool> condition)
        {
            for (long started = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30); await Task.Delay(20))
            {
                if (condition())
                {
                    return true;
                }
            }

            return condition();
        }
    }

    [Fact]
    public async Task RatioBreakerTripsAgainAfterAStableRecovery_PagesAgainWithinThePeriod_AFlapRightAfterARecoveryDoesNot()
    {
        // Arrange: an hour's alert period, so that every trip below falls within the period of the first.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.Period = TimeSpan.FromHours(1)), time);
        EmailRatioBreakerOptions breakers = host.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value;
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        EmailRatioBreakerArguments Trip() => BounceTrip(EmailGuardDimension.Tenant, "acme", EmailRatioBreakerAction.Suspended, time.GetUtcNow(), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5));
        ValueTask Recovered() => breakers.OnRecovered!(new EmailRatioBreakerRecoveredArguments
        {
            Dimension = EmailGuardDimension.Tenant,
            Partition = "acme",
            Reason = EmailGuardFlagReasons.HighBounceRate,
            ProbeSends = 100,
            ProbeFailures = 0,
            Level = 1,
            RecoveredAt = time.GetUtcNow(),
        });

        // Act: the tenant's bounce breaker trips and recovers at the end of its half-open phase; thirty minutes later it
        // trips again.
        await breakers.OnTripped!(Trip());
        string? first = Title(await receiver.NextAsync("webhook"));
        time.Advance(TimeSpan.FromMinutes(10));
        await Recovered();
        time.Advance(TimeSpan.FromMinutes(30));
        await breakers.OnTripped!(Trip());
        string? second = Title(await receiver.NextAsync("webhook"));

        // A trip again a minute after the next recovery: the same breaker flapping, counted for the summary.
        time.Advance(TimeSpan.FromMinutes(10));
        await Recovered();
        time.Advance(TimeSpan.FromMinutes(1));
        long suppressedBefore = metrics.Suppressed;
        await breakers.OnTripped!(Trip());

        // Assert
        first.Should().Be("Ratio breaker: Tenant acme suspended (high_bounce_rate)");
        second.Should().Be(first, "the breaker had recovered half an hour before: this trip is a new incident");
        metrics.Suppressed.Should().Be(suppressedBefore + 1, "a trip a minute after a recovery is the same flapping breaker, counted for the summary");

        static string? Title(AlertReceiver.Received received) => JsonDocument.Parse(received.Body).RootElement.GetProperty("title").GetString();
    }

    [Fact]
    public async Task SurgeBreakerTripsAgainAfterAStableRecovery_PagesAgainWithinThePeriod()
    {
        // Arrange: a signup endpoint whose surge breaker trips above 20 requests a minute, for 10 minutes.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(
            SignedWebhook(receiver, o => o.Period = TimeSpan.FromHours(1)),
            time,
            services: s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p
                .PerClientIp(RateLimitRule.PerHour(10_000))
                .WithSurgeBreaker(b =>
                {
                    b.ThresholdPerMinute = 20;
                    b.TripFor = TimeSpan.FromMinutes(10);
                }))),
            endpoints: app =>
            {
                app.UseEmailGuard();
                app.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
            });
        using HttpClient client = host.Client();

        // Act: a surge trips it; it recovers after its 10 minutes; half an hour later a second surge trips it again.
        await PostAsync(21);
        string? first = Title(await receiver.NextAsync("webhook"));
        time.Advance(TimeSpan.FromMinutes(11));
        await PostAsync(1);
        time.Advance(TimeSpan.FromMinutes(30));
        await PostAsync(21);
        string? second = Title(await receiver.NextAsync("webhook"));

        // Assert
        first.Should().Be("Surge breaker of endpoint policy signup tripped");
        second.Should().Be(first, "the breaker had recovered half an hour before: this surge is a new incident");

        async Task PostAsync(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using HttpResponseMessage response = await client.PostAsync("/signup", null);
            }
        }

        static string? Title(AlertReceiver.Received received) => JsonDocument.Parse(received.Body).RootElement.GetProperty("title").GetString();
    }

    [Fact]
    public async Task NetworkBannedAgainAfterItsBanEnded_PagesAgainWithinThePeriod_ABanWhileBannedDoesNot()
    {
        // Arrange: a ratio breaker's network ban has no half-open phase; it is over when it expires.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.Period = TimeSpan.FromHours(1)), time);
        Func<EmailRatioBreakerArguments, ValueTask> onTripped = host.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.OnTripped!;
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        EmailRatioBreakerArguments Ban() => BounceTrip(EmailGuardDimension.ClientIp, "198.51.100.0/24", EmailRatioBreakerAction.NetworkBanned, time.GetUtcNow(), TimeSpan.FromMinutes(20), halfOpenFor: null);

        // Act: banned for 20 minutes; banned again while banned (counted, and now until 10:30); banned again ten minutes after that.
        await onTripped(Ban());
        JsonElement first = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        time.Advance(TimeSpan.FromMinutes(10));
        await onTripped(Ban());
        long suppressedWhileBanned = metrics.Suppressed;
        time.Advance(TimeSpan.FromMinutes(30));
        await onTripped(Ban());
        JsonElement second = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;

        // Assert
        first.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.BreakerTripped);
        suppressedWhileBanned.Should().Be(1, "a ban renewed while the network is banned is the same incident");
        second.GetProperty("title").GetString().Should().Be("Ratio breaker: ClientIp 198.51.100.0/24 banned (high_bounce_rate)");
        second.GetProperty("suppressed").GetInt32().Should().Be(1, "the renewal counted while banned goes out with the next alert");
    }

    [Fact]
    public async Task LimitBurst_TenThousandDenials_OneSpikeAlertThenOneSummary()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(
            SignedWebhook(receiver, o =>
            {
                o.SpikeThreshold = 100;
                o.SpikeWindow = TimeSpan.FromHours(1);
                o.Period = TimeSpan.FromMinutes(15);
            }),
            time);
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        OutboundEmail message = new() { To = ["victim@example.com"], TenantId = "trial-tenant" };

        int denied = 0;
        for (int i = 0; i < 10_003; i++)
        {
            if (!(await guard.CheckAsync(message)).IsAllowed)
            {
                denied++;
            }
        }

        denied.Should().Be(10_000, "the tenant may send 3 per hour");
        AlertReceiver.Received first = await receiver.NextAsync("webhook");
        JsonDocument.Parse(first.Body).RootElement.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.LimitExceededSpike);
        EmailGuardWebhookSignature.Verify(Secret, first.Timestamp, first.Signature, first.Body, time.GetUtcNow(), TimeSpan.FromMinutes(5)).Should().BeTrue();
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        using AlertOutcomes outcomes = new(host.Services);
        metrics.Suppressed.Should().Be(99, "10,000 denials cross the threshold of 100 a hundred times; one alert goes out");

        // The dispatcher's flush tick runs on the fake clock: move it on a minute at a time until the period has ended.
        AlertReceiver.Received? summary = null;
        for (int minute = 0; minute < 40 && summary is null; minute++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            using CancellationTokenSource wait = new(TimeSpan.FromMilliseconds(500));
            try
            {
                summary = await receiver.Alerts.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        summary.Should().NotBeNull();
        JsonElement root = JsonDocument.Parse(summary!.Body).RootElement;
        root.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.Suppressed);
        root.GetProperty("suppressed").GetInt32().Should().Be(99);
        receiver.Alerts.Reader.TryRead(out _).Should().BeFalse("one alert and one summary, nothing else");
        await outcomes.WaitUntilAsync(() => metrics.Delivered >= 2);

        metrics.Delivered.Should().Be(2);
        metrics.Failures.Should().Be(0);
    }

    [Fact]
    public async Task DeadWebhook_NeverSlowsASend()
    {
        using TcpListener dead = new(IPAddress.Loopback, 0);
        dead.Start(); // accepts connections and never answers
        int port = ((IPEndPoint)dead.LocalEndpoint).Port;
        await using DashboardHost baseline = await DashboardHost.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = $"http://127.0.0.1:{port}/hook";
            o.WebhookSecret = Secret;
            o.SpikeThreshold = 1;
            o.QueueCapacity = 4;
            o.RequestTimeout = TimeSpan.FromMinutes(5);
        });

        TimeSpan without = await TimeSendsAsync(baseline);
        TimeSpan with = await TimeSendsAsync(host);

        // A send that waited on the dead webhook would take its 5-minute request timeout; the bounds leave a loaded
        // machine a minute, and still fail that by minutes.
        with.Should().BeLessThan(without * 20 + TimeSpan.FromSeconds(60), $"without alerts the sends took {without}");
        IEmailGuardAlerts alerts = host.Services.GetRequiredService<IEmailGuardAlerts>();
        Stopwatch raising = Stopwatch.StartNew();
        // Kinds of their own: 50 conditions of one kind would mostly be rolled up (see NetworkBanFlood_...), not queued.
        int queued = Enumerable.Range(0, 50).Count(i => alerts.Raise(new EmailGuardAlert { Kind = $"app_breaker_{i}", Condition = $"breaker:{i}", Title = "tripped" }));
        raising.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60));
        queued.Should().BeLessThanOrEqualTo(5, "the queue holds 4, and the dispatcher holds at most one while it waits on the dead webhook");
        host.Services.GetRequiredService<AlertMetrics>().Dropped.Should().Be(50 - queued);
    }

    [Fact]
    public async Task NetworkBanFlood_ThousandsOfNetworks_RolledUp_AndAStoreOutageStillQueued()
    {
        // Arrange: a receiver that never answers, so the queue keeps what is raised (as a slow Slack would).
        using TcpListener dead = new(IPAddress.Loopback, 0);
        dead.Start();
        int port = ((IPEndPoint)dead.LocalEndpoint).Port;
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = $"http://127.0.0.1:{port}/hook";
            o.WebhookSecret = Secret;
            o.QueueCapacity = 100;
            o.RequestTimeout = TimeSpan.FromMinutes(5);
        });
        Func<EmailRatioBreakerArguments, ValueTask> onTripped = host.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.OnTripped!;
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();

        // Act: a bot with an IPv6 /48 gets 5,000 of its /64 networks banned for their bounces, one trip each.
        for (int i = 0; i < 5_000; i++)
        {
            await onTripped(BounceTrip(EmailGuardDimension.ClientIp, $"2001:db8:1:{i:x}::/64", EmailRatioBreakerAction.NetworkBanned));
        }

        bool outage = host.Services.GetRequiredService<IEmailGuardAlerts>().Raise(new EmailGuardAlert
        {
            Kind = EmailGuardAlertKinds.StoreOutage,
            Condition = EmailGuardAlertKinds.StoreOutage,
            Severity = EmailGuardAlertSeverity.Critical,
            Title = "The EmailGuard store stopped answering",
        });

        // Assert
        outage.Should().BeTrue("the operator still hears that the store is down");
        metrics.Dropped.Should().Be(0, "the bans are rolled up, not queued one per network until the queue overflows");
        metrics.Suppressed.Should().Be(5_000 - 10 - 1, "10 networks go out one by one, then one roll-up alert; the rest are counted in it");
    }

    [Fact]
    public async Task NetworkBans_BeyondTheBudget_ThenATenantTrips_TheTenantTripIsItsOwnAlert()
    {
        // Arrange
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver));
        Func<EmailRatioBreakerArguments, ValueTask> onTripped = host.Services.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value.OnTripped!;
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();

        // Act: a bot gets 12 networks banned (the default budget is 10), then a real tenant trips its bounce breaker.
        for (int i = 0; i < 12; i++)
        {
            await onTripped(BounceTrip(EmailGuardDimension.ClientIp, $"2001:db8:1:{i:x}::/64", EmailRatioBreakerAction.NetworkBanned));
        }

        await onTripped(BounceTrip(EmailGuardDimension.Tenant, "acme", EmailRatioBreakerAction.Suspended));

        // Assert: 10 bans on their own, the networks' roll-up alert, the twelfth counted in it; the tenant's trip is not.
        metrics.Suppressed.Should().Be(1, "only the twelfth ban is counted in the networks' roll-up; the tenant's trip has a budget of its own");
        List<JsonElement> alerts = [];
        for (int i = 0; i < 12; i++)
        {
            alerts.Add(JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement);
        }

        alerts[10].GetProperty("condition").GetString().Should().Be(AlertGate.RollUpCondition(EmailGuardAlertKinds.BreakerTripped, EmailGuardAlertSeverity.Warning, "network"));
        alerts[11].GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.BreakerTripped, "the kind receivers route on is unchanged");
        alerts[11].GetProperty("title").GetString().Should().Be("Ratio breaker: Tenant acme suspended (high_bounce_rate)");
        alerts[11].GetProperty("details").GetProperty("scope").GetString().Should().Be("tenant");
    }

    [Fact]
    public async Task CriticalAlert_BehindAFullQueue_IsNotDropped_AndGoesOutNext()
    {
        // Arrange: a receiver that holds every request, so the first alert occupies the dispatcher and the rest queue up.
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        receiver.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o =>
        {
            o.QueueCapacity = 4;
            o.RequestTimeout = TimeSpan.FromMinutes(5);
        }));
        IEmailGuardAlerts alerts = host.Services.GetRequiredService<IEmailGuardAlerts>();
        AlertMetrics metrics = host.Services.GetRequiredService<AlertMetrics>();
        EmailGuardAlert Warning(int i) => new() { Kind = $"app_warning_{i}", Condition = $"warning:{i}", Title = $"warning {i}" };
        alerts.Raise(Warning(0)).Should().BeTrue();
        (await receiver.NextAsync("webhook")).Text.Should().Contain("warning 0");
        Enumerable.Range(1, 5).Count(i => alerts.Raise(Warning(i))).Should().Be(4, "the queue holds 4 while the dispatcher waits on the receiver");

        // Act
        bool outage = alerts.Raise(new EmailGuardAlert
        {
            Kind = EmailGuardAlertKinds.StoreOutage,
            Condition = EmailGuardAlertKinds.StoreOutage,
            Severity = EmailGuardAlertSeverity.Critical,
            Title = "The EmailGuard store stopped answering",
        });
        receiver.Hold.SetResult();

        // Assert
        outage.Should().BeTrue("a critical alert is not dropped because warnings filled the queue");
        metrics.Dropped.Should().Be(1, "only the fifth warning found no room");
        (await receiver.NextAsync("webhook")).Text.Should().Contain("stopped answering", "the critical alert goes out before the queued warnings");
        for (int i = 1; i <= 4; i++)
        {
            (await receiver.NextAsync("webhook")).Text.Should().Contain($"warning {i}");
        }
    }

    [Fact]
    public void Gate_MaxConditionsPerKindFromTheOptions_RollsUpAfterThatMany()
    {
        AlertGate gate = new(TimeSpan.FromMinutes(15), maxPerKind: 3);
        DateTimeOffset now = DateTimeOffset.UtcNow;

        List<string> passed = [];
        for (int i = 0; i < 8; i++)
        {
            if (gate.TryPass(new EmailGuardAlert { Kind = "breaker_tripped", Condition = $"network:{i}", Severity = EmailGuardAlertSeverity.Warning, Title = $"network {i}" }, now, out EmailGuardAlert sent, out _, out _))
            {
                passed.Add(sent.Condition);
            }
        }

        passed.Should().Equal("network:0", "network:1", "network:2", AlertGate.RollUpCondition("breaker_tripped", EmailGuardAlertSeverity.Warning));
    }

    [Fact]
    public async Task Raise_MaxConditionsPerKindSetInTheOptions_IsTheBudgetOfNewConditions()
    {
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(SignedWebhook(receiver, o => o.MaxConditionsPerKind = 2));
        IEmailGuardAlerts alerts = host.Services.GetRequiredService<IEmailGuardAlerts>();

        int raised = Enumerable.Range(0, 6).Count(i => alerts.Raise(new EmailGuardAlert { Kind = "app_kind", Condition = $"party:{i}", Title = $"party {i}" }));

        raised.Should().Be(3, "two conditions of their own, then the kind's roll-up alert");
        host.Services.GetRequiredService<AlertMetrics>().Suppressed.Should().Be(3);
    }

    /// <summary>The alert options of a host that sends signed webhooks to <paramref name="receiver"/>, with <paramref name="more"/>.</summary>
    private static Action<EmailGuardAlertOptions> SignedWebhook(AlertReceiver receiver, Action<EmailGuardAlertOptions>? more = null) => o =>
    {
        o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
        o.WebhookSecret = Secret;
        more?.Invoke(o);
    };

    /// <summary>
    /// Starts a host that sends signed webhooks to <paramref name="receiver"/> (with <paramref name="more"/>) and whose ratio
    /// breakers judge from 20 sends; sends 20 mails for the user <c>bouncy</c> and records a hard bounce of one: 5 %
    /// suspends the user.
    /// </summary>
    private static async Task<DashboardHost> StartAndSuspendBouncyAsync(AlertReceiver receiver, Action<EmailGuardAlertOptions>? more = null)
    {
        DashboardHost host = await DashboardHost.StartAsync(
            SignedWebhook(receiver, more),
            services: s => s.Configure<EmailRatioBreakerOptions>(o => o.MinimumSends = 20));
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < 20; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], UserId = "bouncy" })).IsAllowed.Should().BeTrue();
        }

        await host.Services.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "bounce-1",
            Recipient = "r0@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Timestamp = DateTimeOffset.UtcNow,
            Attribution = new EmailSendAttribution { UserId = "bouncy" },
        });
        return host;
    }

    /// <summary>What a ratio breaker tells of a trip on <paramref name="partition"/> for its bounces.</summary>
    private static EmailRatioBreakerArguments BounceTrip(EmailGuardDimension dimension, string partition, EmailRatioBreakerAction action)
        => BounceTrip(dimension, partition, action, DateTimeOffset.UtcNow, TimeSpan.FromHours(1), halfOpenFor: null);

    /// <summary>A trip at <paramref name="now"/> for <paramref name="tripFor"/>, followed by a half-open phase of <paramref name="halfOpenFor"/> when not null.</summary>
    private static EmailRatioBreakerArguments BounceTrip(
        EmailGuardDimension dimension, string partition, EmailRatioBreakerAction action, DateTimeOffset now, TimeSpan tripFor, TimeSpan? halfOpenFor) => new()
        {
            Dimension = dimension,
            Partition = partition,
            Reason = EmailGuardFlagReasons.HighBounceRate,
            Action = action,
            Counts = new EmailFeedbackCounts { Dimension = dimension, Sends = 10, Bounces = 5, Window = TimeSpan.FromDays(1), Timestamp = now },
            ExpiresAt = now + tripFor,
            HalfOpenUntil = now + tripFor + halfOpenFor,
        };

    [Theory]
    [InlineData(0)]
    [InlineData(1_001)]
    public void Options_MaxConditionsPerKindOutOfRange_FailStartupNamingTheSetting(int value)
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddAlerts(o => o.MaxConditionsPerKind = value);
        using ServiceProvider provider = services.BuildServiceProvider();

        Action read = () => _ = provider.GetRequiredService<IOptions<EmailGuardAlertOptions>>().Value;

        read.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:Alerts:MaxConditionsPerKind:", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_PlainHttpToARemoteHost_FailStartupNamingTheSetting()
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddAlerts(o =>
        {
            o.WebhookUrl = "http://alerts.example.com/hook";
            o.WebhookSecret = "short";
        });
        using ServiceProvider provider = services.BuildServiceProvider();

        Action read = () => _ = provider.GetRequiredService<IOptions<EmailGuardAlertOptions>>().Value;

        read.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().Contain(f => f.StartsWith("EmailGuard:Alerts:WebhookUrl:", StringComparison.Ordinal))
            .And.Contain(f => f.StartsWith("EmailGuard:Alerts:WebhookSecret:", StringComparison.Ordinal));
    }

    [Fact]
    public void SpaceSaving_HeavyHitterAmongManyKeys_KeptWithBoundedError()
    {
        SpaceSavingSketch sketch = new(16);
        for (int i = 0; i < 10_000; i++)
        {
            sketch.Add($"random-{i}", 1);
            if (i % 4 == 0)
            {
                sketch.Add("attacker", 1);
            }
        }

        sketch.Count.Should().Be(16);
        KeyValuePair<string, SpaceSavingSketch.Counter> top = sketch.Items.MaxBy(p => p.Value.Count);
        top.Key.Should().Be("attacker");
        (top.Value.Count - top.Value.Error).Should().BeLessThanOrEqualTo(2_500).And.BeGreaterThan(0);
        top.Value.Count.Should().BeGreaterThanOrEqualTo(2_500);
    }

    private static async Task<TimeSpan> TimeSendsAsync(DashboardHost host)
    {
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        Stopwatch watch = Stopwatch.StartNew();
        for (int i = 0; i < 500; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = ["v@example.com"], TenantId = $"t{i % 3}" });
        }

        return watch.Elapsed;
    }
}
