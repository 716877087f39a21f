using System.Diagnostics;
using System.Net;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>Bans, client-network lists and the surge breaker shared by two app instances on one Redis.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisDefenseTests(RedisServerFixture redis)
{
    private readonly Dictionary<string, EmailSendAttribution> _sent = new(StringComparer.Ordinal);

    /// <summary>Two app instances on one fake clock and one key prefix, recording their bans and trips in one list.</summary>
    private async Task<TwoInstances> StartTwoAsync()
    {
        string prefix = RedisServerFixture.UniquePrefix();
        var time = new FakeTimeProvider(TestApp.Start);
        var events = new List<string>();
        TestApp first = await StartAsync(prefix, time, events);
        return new TwoInstances(first, await StartAsync(prefix, time, events), time, events);
    }

    private Task<TestApp> StartAsync(string prefix, FakeTimeProvider time, List<string> events)
        => TestApp.StartAsync(
            s => s.Configure<EmailRatioBreakerOptions>(o => o.NetworkBouncesToBan = 0).AddEmailGuard()
                .AddRedisStore(o =>
                {
                    o.Configuration = redis.ConnectionString;
                    o.KeyPrefix = prefix;
                    o.UseServerTime = false;
                })
                .AddSendGuard()
                .AddEndpointPolicies(o =>
                {
                    o.ClientNetworkListRefreshInterval = TimeSpan.FromSeconds(5);
                    o.OnBanStarted = a =>
                    {
                        lock (events)
                        {
                            events.Add("ban " + a.ClientNetwork);
                        }

                        return ValueTask.CompletedTask;
                    };
                    o.OnSurgeBreakerTripped = a =>
                    {
                        lock (events)
                        {
                            events.Add("tripped");
                        }

                        return ValueTask.CompletedTask;
                    };
                    o.AddPolicy("signup", p => p
                        .PerClientIp(RateLimitRule.PerHour(2))
                        .WithEscalatingBan(b =>
                        {
                            b.MaxDenials = 2;
                            b.BanFor = TimeSpan.FromHours(1);
                        }));
                    o.AddPolicy("webhook", p => p.PerClientIp(RateLimitRule.PerHour(100)).WithSurgeBreaker(b => b.ThresholdPerMinute = 10));
                    o.AddPolicy("login", p => p.PerClientIp(RateLimitRule.PerHour(100)).WithAllow2Ban(b =>
                    {
                        b.MaxRequests = 3;
                        b.BanFor = TimeSpan.FromHours(1);
                    }));
                    o.AddPolicy("invite", p => p.PerClientIp(RateLimitRule.PerHour(100)).WithBounceBan(b => b.Bounces = 2));
                }),
            a =>
            {
                a.MapPost("/login", () => Results.Ok()).RequireEmailRateLimit("login");
                a.MapPost("/invite", async (HttpContext context, IEmailSendGuard guard) =>
                {
                    string to = context.Request.Query["to"].ToString();
                    EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail
                    {
                        To = [to],
                        ClientIp = context.Connection.RemoteIpAddress,
                        EndpointPolicy = "invite",
                    });
                    lock (_sent)
                    {
                        _sent[to] = decision.Attribution!;
                    }

                    return decision.IsAllowed ? Results.Ok() : Results.StatusCode(503);
                }).RequireEmailRateLimit("invite");
                a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
                a.MapPost("/webhook", () => Results.Ok()).RequireEmailRateLimit("webhook");
            },
            time: time);

    [Fact]
    public async Task Ban_StartedOnOneInstance_HoldsOnTheOther_ThenExpires()
    {
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, List<string> events) = apps;

        var statuses = new List<HttpStatusCode>();
        foreach (TestApp app in new[] { first, second, first, second })
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", "2001:db8:7:7::1");
            statuses.Add(response.StatusCode);
        }

        time.Advance(TimeSpan.FromMinutes(61));
        using HttpResponseMessage rotatedDuringBan = await second.PostAsync("/signup", "2001:db8:7:7::beef");
        time.Advance(TimeSpan.FromMinutes(1));

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        events.Should().Equal("ban 2001:db8:7:7::/64");

        // The hourly window is new, yet the ban (1 h plus up to one 36 s segment) started at minute 0 is over by now.
        using HttpResponseMessage afterBan = await first.PostAsync("/signup", "2001:db8:7:7::2");
        afterBan.StatusCode.Should().Be(HttpStatusCode.OK);
        rotatedDuringBan.StatusCode.Should().Be(HttpStatusCode.OK, "61 minutes after the ban started it has ended");
    }

    [Fact]
    public async Task Ban_SecondInstanceSeesItBeforeItEnds()
    {
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, List<string> events) = apps;
        for (int i = 0; i < 4; i++)
        {
            using HttpResponseMessage response = await first.PostAsync("/signup", "203.0.113.9");
        }

        time.Advance(TimeSpan.FromMinutes(30));
        using HttpResponseMessage onSecond = await second.PostAsync("/signup", "203.0.113.9");

        events.Should().Equal("ban 203.0.113.9");
        onSecond.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        onSecond.RetryAfterSeconds().Should().BeInRange(1800, 1836);
    }

    [Fact]
    public async Task ClientNetworkDeny_AddedOnOneInstance_AppliesOnTheOtherAfterItsRefresh()
    {
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, List<string> events) = apps;
        using HttpResponseMessage before = await second.PostAsync("/webhook", "2001:db8:9::1");

        await first.App.Services.GetRequiredService<IEmailGuardLists>()
            .AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:9::/48", "webhook flood", addedBy: "ops");
        await first.App.Services.GetRequiredService<IEmailGuardLists>()
            .AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.ClientNetwork, "198.51.100.0/24", "partner");
        time.Advance(TimeSpan.FromSeconds(6));

        // The first request after the refresh interval starts the reread in the background; wait for it, bounded by
        // 30 s of real time rather than by 200 tries (about 2 s, which a loaded machine's background reread may outlast).
        HttpStatusCode after = HttpStatusCode.OK;
        long waiting = Stopwatch.GetTimestamp();
        while (after != HttpStatusCode.Forbidden && Stopwatch.GetElapsedTime(waiting) < TimeSpan.FromSeconds(30))
        {
            using HttpResponseMessage response = await second.PostAsync("/webhook", "2001:db8:9:1::1");
            after = response.StatusCode;
            if (after != HttpStatusCode.Forbidden)
            {
                await Task.Delay(10);
            }
        }

        var partner = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await second.PostAsync("/signup", "198.51.100.44");
            partner.Add(response.StatusCode);
        }

        before.StatusCode.Should().Be(HttpStatusCode.OK);
        after.Should().Be(HttpStatusCode.Forbidden);
        partner.Should().OnlyContain(s => s == HttpStatusCode.OK, "the allow list bypasses the two-per-hour limit");
    }

    [Fact]
    public async Task ClientNetworkDeny_AddedOnOneInstance_IdleOtherInstanceRefusesItsVeryFirstRequest()
    {
        // The second instance serves nothing for six refresh intervals (a balancer sent it no traffic): its table is
        // that old, and its first request must not be answered from it.
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, _) = apps;
        using HttpResponseMessage before = await second.PostAsync("/webhook", "2001:db8:9::1");

        await first.App.Services.GetRequiredService<IEmailGuardLists>()
            .AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:9::/48", "webhook flood", addedBy: "ops");
        time.Advance(TimeSpan.FromSeconds(30));
        using HttpResponseMessage afterIdle = await second.PostAsync("/webhook", "2001:db8:9:1::1");

        before.StatusCode.Should().Be(HttpStatusCode.OK);
        afterIdle.StatusCode.Should().Be(HttpStatusCode.Forbidden, "the table was six intervals old, so the request waited for a reading");
    }

    [Fact]
    public async Task ClientNetworkDeny_AddedOnOneInstance_OtherInstanceReadsItWithinTheIntervalWithoutRequests()
    {
        // Six seconds on a 5 s interval: under twice the interval, so a request would answer from its table at once. The
        // host's periodic reading, not a request, must have brought the ban in by then.
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, _) = apps;
        using HttpResponseMessage before = await second.PostAsync("/webhook", "2001:db8:9::1");
        int readings = Readings();

        await first.App.Services.GetRequiredService<IEmailGuardLists>()
            .AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:9::/48", "webhook flood", addedBy: "ops");
        time.Advance(TimeSpan.FromSeconds(6));
        long waiting = Stopwatch.GetTimestamp();
        while (Readings() == readings && Stopwatch.GetElapsedTime(waiting) < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(10);
        }

        int readingsBeforeTheRequest = Readings();
        using HttpResponseMessage after = await second.PostAsync("/webhook", "2001:db8:9:1::1");

        before.StatusCode.Should().Be(HttpStatusCode.OK);
        readingsBeforeTheRequest.Should().BeGreaterThan(readings, "the second instance reads the lists every interval, requests or not");
        after.StatusCode.Should().Be(HttpStatusCode.Forbidden);

        int Readings() => second.Logs.GetSnapshot().Count(r => r.Id.Id == 1808);
    }

    [Fact]
    public async Task SurgeBreaker_TotalsSummedOverBothInstances()
    {
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, List<string> events) = apps;

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 12; i++)
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? first : second).PostAsync("/webhook", $"10.0.0.{i + 1}");
            statuses.Add(response.StatusCode);
        }

        statuses.Take(10).Should().OnlyContain(s => s == HttpStatusCode.OK);
        statuses.Skip(10).Should().OnlyContain(s => s == HttpStatusCode.Forbidden);
        events.Should().Equal("tripped");
    }

    [Fact]
    public async Task Allow2Ban_ConcurrentBurstOnBothInstances_AdmitsExactlyMaxRequests()
    {
        // A bot that fires its requests at once: each was checked for a ban before it counted, so a burst passed the
        // ban check together and only the requests after it met the ban the third one started.
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, _, List<string> events) = apps;

        HttpStatusCode[] statuses = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
        {
            using HttpResponseMessage response = await (i % 2 == 0 ? first : second).PostAsync("/login", "203.0.113.21");
            return response.StatusCode;
        })));

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(3, "MaxRequests (3) are allowed within the window, however the requests interleave");
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).Should().Be(37);
        events.Should().Equal("ban 203.0.113.21");
    }

    [Fact]
    public async Task Allow2Ban_RequestsCountedOnBothInstances_BanHoldsOnBoth()
    {
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, List<string> events) = apps;
        var statuses = new List<HttpStatusCode>();
        foreach (TestApp app in new[] { first, second, first, second, first })
        {
            using HttpResponseMessage response = await app.PostAsync("/login", "203.0.113.20");
            statuses.Add(response.StatusCode);
        }

        time.Advance(TimeSpan.FromMinutes(30));
        using HttpResponseMessage later = await second.PostAsync("/login", "203.0.113.20");
        time.Advance(TimeSpan.FromMinutes(31));
        using HttpResponseMessage afterBan = await first.PostAsync("/login", "203.0.113.20");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        events.Should().Equal("ban 203.0.113.20");
        later.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        later.RetryAfterSeconds().Should().BeInRange(1_800, 1_836);
        afterBan.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BounceBan_MailSentOnOneInstance_BouncesRecordedOnTheOther_BannedOnBoth()
    {
        await using TwoInstances apps = await StartTwoAsync();
        (TestApp first, TestApp second, FakeTimeProvider time, List<string> events) = apps;
        foreach (string to in new[] { "a@bounce.example", "b@bounce.example" })
        {
            using HttpResponseMessage sent = await first.PostAsync($"/invite?to={to}", "2001:db8:5:5::1");
            sent.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        int id = 0;
        foreach (string to in new[] { "a@bounce.example", "b@bounce.example" })
        {
            EmailFeedbackResult recorded = await second.App.Services.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = "evt-" + id++,
                Recipient = to,
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Permanent,
                Attribution = _sent[to],
            });
            recorded.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        using HttpResponseMessage onFirst = await first.PostAsync("/invite?to=c@mail.example", "2001:db8:5:5::beef");
        using HttpResponseMessage onSecond = await second.PostAsync("/invite?to=d@mail.example", "2001:db8:5:5::2");
        using HttpResponseMessage otherPolicy = await second.PostAsync("/login", "2001:db8:5:5::2");

        events.Should().Equal("ban 2001:db8:5:5::/64");
        onFirst.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        onSecond.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        onSecond.RetryAfterSeconds().Should().BeInRange(86_400 - 60, 86_400 + 864);
        otherPolicy.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    private sealed record TwoInstances(TestApp First, TestApp Second, FakeTimeProvider Time, List<string> Events) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await First.DisposeAsync();
            await Second.DisposeAsync();
        }
    }
}
