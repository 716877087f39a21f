using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// What trips outside the send guard's own events reaches the event log and the overview: ratio breaker trips (reduced
/// limits, suspensions, client-network bans), feedback suppressions, and the bounce and complaint ratios, with
/// hostile party ids escaped.
/// </summary>
public sealed class DashboardEventTests : IAsyncLifetime
{
    private const string ImgUser = "\"><img src=x onerror=alert('u')>";
    private const string ScriptUser = "<script>alert('b')</script>";

    private readonly List<EmailRatioBreakerArguments> _appTrips = [];
    private DashboardHost _host = null!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync(services: s => s.Configure<EmailRatioBreakerOptions>(o =>
    {
        o.MinimumSends = 20;
        o.NetworkBouncesToBan = 3;
        // The app's own callback: the dashboard chains after it and never replaces it.
        o.OnTripped = args =>
        {
            lock (_appTrips)
            {
                _appTrips.Add(args);
            }

            return ValueTask.CompletedTask;
        };
    }));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task RatioBreaker_Trips_EventLogShowsTheTripEscaped_AndTheAppCallbackStillRuns()
    {
        await SendAndBounceAsync(ImgUser, "203.0.113.0/24", sends: 20, bounces: 1);

        string html = await _host.Client().GetStringAsync("/emailguard/events");

        _appTrips.Should().Contain(t => t.Dimension == EmailGuardDimension.User && t.Reason == EmailGuardFlagReasons.HighBounceRate);
        html.Should().NotContain("<img src=x");
        string trip = Row(html, "breaker_tripped", "Ratio breaker: User");
        trip.Should().Contain("Ratio breaker: User &quot;&gt;&lt;img src=x onerror=alert(").And.Contain("(high_bounce_rate)").And.Contain("over 20 sends");
    }

    [Fact]
    public async Task RatioBreaker_NetworkBouncesPastTheBan_EventLogShowsTheNetworkBan()
    {
        await SendAndBounceAsync("user-1", "198.51.100.0/24", sends: 20, bounces: 3);

        string html = await _host.Client().GetStringAsync("/emailguard/events");

        Row(html, "breaker_tripped", "Ratio breaker: ClientIp 198.51.100.0/24 banned (high_bounce_rate)").Should().Contain("until");
        (await _host.Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.0/24"))
            .Should().NotBeNull();
    }

    [Fact]
    public async Task RatioBreaker_Recovers_EventLogShowsTheRecoveryEscaped()
    {
        EmailRatioBreakerOptions options = _host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmailRatioBreakerOptions>>().Value;
        await options.OnRecovered!(new EmailRatioBreakerRecoveredArguments
        {
            Dimension = EmailGuardDimension.Tenant,
            Partition = ScriptUser,
            Reason = EmailGuardFlagReasons.HighBounceRate,
            ProbeSends = 120,
            ProbeFailures = 1,
            Level = 2,
            RecoveredAt = DateTimeOffset.UtcNow,
        });

        string html = await _host.Client().GetStringAsync("/emailguard/events");

        html.Should().NotContain("<script>alert");
        Row(html, "breaker_recovered", "Ratio breaker: Tenant &lt;script&gt;").Should().Contain("recovered (high_bounce_rate)").And.Contain("1 failures in 120 sends");
    }

    [Fact]
    public async Task HardBounce_SuppressesTheAddress_EventLogShowsTheSuppression()
    {
        await SendAndBounceAsync(ScriptUser, null, sends: 1, bounces: 1);

        string html = await _host.Client().GetStringAsync("/emailguard/events");

        Row(html, "suppressed", "b0@example.com suppressed: hard_bounce").Should().NotBeEmpty();
    }

    [Fact]
    public async Task Overview_AfterBounces_ShowsRatiosPerPartyEscaped()
    {
        await SendAndBounceAsync(ScriptUser, null, sends: 20, bounces: 1);

        string html = await _host.Client().GetStringAsync("/emailguard/");

        html.Should().NotContain("<script>alert");
        html.Should().Contain("id=\"feedback-ratios\"");
        string global = Row(html, "Global", "all mail", "tr class=\"ratio\"");
        global.Should().Contain("<td class=\"num\">20</td><td class=\"num\">1</td><td class=\"num\">0</td>").And.Contain(">5%</td>");
        string user = Row(html, "User", "&lt;script&gt;alert(", "tr class=\"ratio\"");
        user.Should().Contain("bounce-rate high\">5%</td>", "5 % is over the 2 % line at 20 sends");
    }

    [Fact]
    public async Task Overview_StoreAnswering_StoreCardSaysAnswering()
    {
        using HttpResponseMessage response = await _host.Client().GetAsync("/emailguard/");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Contain("Answering.").And.NotContain("store-unavailable");
    }

    private async Task SendAndBounceAsync(string user, string? network, int sends, int bounces)
    {
        IEmailSendGuard guard = _host.Services.GetRequiredService<IEmailSendGuard>();
        IEmailGuardFeedback feedback = _host.Services.GetRequiredService<IEmailGuardFeedback>();
        for (int i = 0; i < sends; i++)
        {
            (await guard.CheckAsync(new OutboundEmail
            {
                To = [$"b{i}@example.com"],
                UserId = user,
                ClientIp = network is null ? null : IPAddress.Parse(network.Split('/')[0].TrimEnd('0') + "9"),
            })).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < bounces; i++)
        {
            EmailFeedbackResult result = await feedback.RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"evt-{user.GetHashCode(StringComparison.Ordinal)}-{i}",
                Recipient = $"b{i}@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Permanent,
                Timestamp = DateTimeOffset.UtcNow,
                Attribution = new EmailSendAttribution { UserId = user, ClientNetwork = network },
            });
            result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }
    }

    [Fact]
    public async Task EndpointEscalatingBan_Starts_EventLogShowsTheBan()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p
                .PerClientIp(RateLimitRule.PerHour(1))
                .WithEscalatingBan(b => b.MaxDenials = 2))),
            endpoints: app =>
            {
                app.UseEmailGuard();
                app.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
            });
        using HttpClient client = host.Client();
        List<HttpStatusCode> answers = [];
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await client.PostAsync("/signup", null);
            answers.Add(response.StatusCode);
        }

        string html = await client.GetStringAsync("/emailguard/events");

        answers[0].Should().Be(HttpStatusCode.OK);
        answers.Skip(1).Should().NotContain(HttpStatusCode.OK);
        Row(html, "network_banned", "banned by endpoint policy signup").Should().Contain("(ban #1, too many denials)");
    }

    [Fact]
    public async Task PolicyDecisions_ShadowRejectionsCountAsLetThrough_RealRejectionsAsDenied()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddEmailGuard().AddEndpointPolicies(o => o
                .AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)))
                .AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)).InShadowMode())),
            endpoints: app =>
            {
                app.UseEmailGuard();
                app.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
                app.MapPost("/share", () => Results.Ok()).RequireEmailRateLimit("share");
            });
        using HttpClient client = host.Client();
        for (int i = 0; i < 3; i++)
        {
            (await client.PostAsync("/signup", null)).Dispose();
            (await client.PostAsync("/share", null)).Dispose();
        }

        var decisions = host.Services.GetRequiredService<EmailGuardMonitor>().Activity.Policies().ToDictionary(p => p.Policy);

        decisions["signup"].Allowed.Should().Be(1);
        decisions["signup"].Denied.Should().Be(2);
        decisions["share"].ByOutcome.Should().ContainKey("shadow_rejected");
        decisions["share"].Allowed.Should().Be(3, "shadow mode lets every request through");
        decisions["share"].Denied.Should().Be(0);
    }

    [Fact]
    public async Task EndpointSurgeBreaker_TripsThenRecovers_EventLogShowsBoth()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        await using DashboardHost host = await DashboardHost.StartAsync(
            time: time,
            services: s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("share", p => p
                .PerClientIp(RateLimitRule.PerHour(1_000))
                .WithSurgeBreaker(b =>
                {
                    b.ThresholdPerMinute = 3;
                    b.TripFor = TimeSpan.FromMinutes(5);
                }))),
            endpoints: app =>
            {
                app.UseEmailGuard();
                app.MapPost("/share", () => Results.Ok()).RequireEmailRateLimit("share");
            });
        using HttpClient client = host.Client();
        List<HttpStatusCode> surge = [];
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await client.PostAsync("/share", null);
            surge.Add(response.StatusCode);
        }

        string duringTrip = await client.GetStringAsync("/emailguard/events");
        time.Advance(TimeSpan.FromMinutes(6));
        using HttpResponseMessage after = await client.PostAsync("/share", null);
        string afterRecovery = await client.GetStringAsync("/emailguard/events");

        surge.Take(3).Should().OnlyContain(s => s == HttpStatusCode.OK);
        surge.Skip(3).Should().NotContain(HttpStatusCode.OK, "the fourth request in the minute trips the breaker");
        Row(duringTrip, "surge_breaker_tripped", "Surge breaker of endpoint policy share tripped").Should().Contain("threshold 3");
        duringTrip.Should().NotContain("surge_breaker_recovered");
        after.StatusCode.Should().Be(HttpStatusCode.OK);
        Row(afterRecovery, "surge_breaker_recovered", "Surge breaker of endpoint policy share recovered");
    }

    /// <summary>The first table row that holds both <paramref name="first"/> and <paramref name="second"/>.</summary>
    private static string Row(string html, string first, string second, string rowStart = "tr class=\"event\"")
    {
        string[] rows = html.Split("<" + rowStart)[1..];
        string? row = rows.FirstOrDefault(r => r.Contains(first, StringComparison.Ordinal) && r.Contains(second, StringComparison.Ordinal));
        row.Should().NotBeNull($"a row holds {first} and {second}:\n{string.Join("\n", rows)}");
        return row!;
    }
}
