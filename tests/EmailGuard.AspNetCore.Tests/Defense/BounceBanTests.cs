using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The cross-layer penalty per endpoint policy: mail that a request to a policy caused bounces, and the request's client
/// network is banned from that policy (not from the others) for a while.
/// </summary>
public sealed class BounceBanTests
{
    private const string Ip = "203.0.113.7";
    private readonly List<EmailGuardBanStartedArguments> _bans = [];
    private readonly Dictionary<string, EmailSendAttribution> _sent = new(StringComparer.Ordinal);
    private int _events;

    private Task<TestApp> StartAsync(
        IDictionary<string, string?>? configuration = null, Action<EmailGuardBounceBanOptions>? ban = null, int sendGuardIPv6Prefix = 64, int sendGuardIPv4Prefix = 32, int endpointIPv4Prefix = 32)
        => TestApp.StartAsync(
            s =>
            {
                s.AddEmailGuard()
                    .AddSendGuard(o =>
                    {
                        o.IPv6PrefixLength = sendGuardIPv6Prefix;
                        o.IPv4PrefixLength = sendGuardIPv4Prefix;
                    })
                    .AddEndpointPolicies(o =>
                    {
                        o.IPv4PrefixLength = endpointIPv4Prefix;
                        o.OnBanStarted = args =>
                        {
                            lock (_bans)
                            {
                                _bans.Add(args);
                            }

                            return ValueTask.CompletedTask;
                        };
                        o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(100)).WithBounceBan(b =>
                        {
                            b.Bounces = 2;
                            b.Within = TimeSpan.FromDays(1);
                            b.BanFor = TimeSpan.FromDays(1);
                            ban?.Invoke(b);
                        }));
                        o.AddPolicy("reset", p => p.PerClientIp(RateLimitRule.PerHour(100)));
                    });

                // The account-wide network ban would deny the network everywhere; this test is about the policy's own.
                s.Configure<EmailRatioBreakerOptions>(o => o.NetworkBouncesToBan = 0);
            },
            a =>
            {
                a.MapPost("/signup", (HttpContext c, IEmailSendGuard g) => SendAsync(c, g, "signup")).RequireEmailRateLimit("signup");
                a.MapPost("/reset", (HttpContext c, IEmailSendGuard g) => SendAsync(c, g, "reset")).RequireEmailRateLimit("reset");
            },
            configuration);

    private async Task<IResult> SendAsync(HttpContext context, IEmailSendGuard guard, string policy)
    {
        string to = context.Request.Query["to"].ToString();
        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail
        {
            To = [to],
            Category = policy,
            ClientIp = context.Connection.RemoteIpAddress,
            EndpointPolicy = policy,
        });
        if (!decision.IsAllowed)
        {
            return Results.StatusCode(503);
        }

        lock (_sent)
        {
            _sent[to] = decision.Attribution!;
        }

        return Results.Ok();
    }

    private static async Task<HttpResponseMessage> PostAsync(TestApp app, string path, string ip, string to)
        => await app.PostAsync($"{path}?to={Uri.EscapeDataString(to)}", ip);

    private Task<EmailFeedbackResult> FeedbackAsync(
        TestApp app, string to, EmailFeedbackKind kind = EmailFeedbackKind.Bounced, EmailBounceType bounce = EmailBounceType.Permanent, string? eventId = null, bool suppressedByProvider = false)
        => app.App.Services.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = eventId ?? "evt-" + (++_events).ToString(CultureInfo.InvariantCulture),
            Recipient = to,
            Kind = kind,
            BounceType = kind == EmailFeedbackKind.Bounced ? bounce : EmailBounceType.None,
            SuppressedByProvider = suppressedByProvider,
            Attribution = _sent[to],
        }).AsTask();

    [Fact]
    public async Task TwoBounces_BanTheNetworkFromThatPolicyForADay_NotFromOthers_NotOtherNetworks()
    {
        await using TestApp app = await StartAsync();
        (await PostAsync(app, "/signup", Ip, "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(app, "/signup", Ip, "b@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");
        (await PostAsync(app, "/signup", Ip, "c@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK, "one bounce is not enough");
        await FeedbackAsync(app, "b@bounce.example");

        using HttpResponseMessage banned = await PostAsync(app, "/signup", Ip, "d@mail.example");
        banned.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        banned.RetryAfterSeconds().Should().BeInRange(86_400 - 60, 86_400 + 864, "a day, to within one of the marker's 100 segments");
        (await PostAsync(app, "/reset", Ip, "e@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK, "the ban is the signup policy's alone");
        (await PostAsync(app, "/signup", "198.51.100.9", "f@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        EmailGuardBanStartedArguments ban = _bans.Should().ContainSingle().Subject;
        (ban.PolicyName, ban.ClientNetwork, ban.Duration, ban.Reason).Should().Be(("signup", Ip, TimeSpan.FromDays(1), EmailGuardBanReason.Bounces));
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 2611).Should().Be(1);

        app.Time.Advance(TimeSpan.FromHours(23));
        (await PostAsync(app, "/signup", Ip, "g@mail.example")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        app.Time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(15));
        (await PostAsync(app, "/signup", Ip, "h@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK, "the ban has ended");
    }

    [Fact]
    public async Task BouncesOfMailTheProviderNeverSent_DoNotBan()
    {
        // The provider found the addresses on its suppression list and sent nothing: no bounce the client caused.
        await using TestApp app = await StartAsync();
        (await PostAsync(app, "/signup", Ip, "a@gone.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(app, "/signup", Ip, "b@gone.example")).StatusCode.Should().Be(HttpStatusCode.OK);

        await FeedbackAsync(app, "a@gone.example", suppressedByProvider: true);
        await FeedbackAsync(app, "b@gone.example", suppressedByProvider: true);

        (await PostAsync(app, "/signup", Ip, "c@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        _bans.Should().BeEmpty();
    }

    [Fact]
    public async Task OnlyHardBouncesAndComplaintsCount_ADuplicateCountsOnce()
    {
        await using TestApp app = await StartAsync();
        foreach (string to in new[] { "a@x.example", "b@x.example", "c@x.example" })
        {
            (await PostAsync(app, "/signup", Ip, to)).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        await FeedbackAsync(app, "a@x.example", bounce: EmailBounceType.Transient);
        await FeedbackAsync(app, "b@x.example", kind: EmailFeedbackKind.Delivered);
        await FeedbackAsync(app, "c@x.example", eventId: "same");
        (await FeedbackAsync(app, "c@x.example", eventId: "same")).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        (await PostAsync(app, "/signup", Ip, "d@x.example")).StatusCode.Should().Be(HttpStatusCode.OK, "one hard bounce, counted once");

        await FeedbackAsync(app, "d@x.example", kind: EmailFeedbackKind.Complained);
        (await PostAsync(app, "/signup", Ip, "e@x.example")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "a complaint counts like a hard bounce");
    }

    [Fact]
    public async Task BouncesOfMailAnotherPolicyCaused_DoNotCount()
    {
        await using TestApp app = await StartAsync();
        (await PostAsync(app, "/reset", Ip, "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(app, "/reset", Ip, "b@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");
        await FeedbackAsync(app, "b@bounce.example");

        (await PostAsync(app, "/signup", Ip, "c@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        _bans.Should().BeEmpty();
    }

    [Fact]
    public async Task IPv6Bot_RotatingInsideItsSlash64_IsBannedAsOneNetwork()
    {
        await using TestApp app = await StartAsync();
        (await PostAsync(app, "/signup", "2001:db8:1:2::5", "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(app, "/signup", "2001:db8:1:2:aaaa::9", "b@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");
        await FeedbackAsync(app, "b@bounce.example");

        (await PostAsync(app, "/signup", "2001:db8:1:2:ffff:ffff:ffff:fffe", "c@mail.example")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        (await PostAsync(app, "/signup", "2001:db8:1:3::1", "d@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        _bans.Should().ContainSingle().Which.ClientNetwork.Should().Be("2001:db8:1:2::/64");
    }

    [Fact]
    public async Task IPv6_SendGuardGroupsMoreCoarselyThanTheEndpoints_BansNoInnocentNeighbour()
    {
        // The send guard groups IPv6 by /48, the endpoints by /64: the mail's attribution names the bot's /48, whose
        // network address lies in the /48's first /64. Grouped again by /64 that was 2001:db8:1::/64, someone else's
        // network, which was banned for the bot's bounces while the bot in 2001:db8:1:5::/64 went on.
        await using TestApp app = await StartAsync(sendGuardIPv6Prefix: 48);
        (await PostAsync(app, "/signup", "2001:db8:1:5::1", "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(app, "/signup", "2001:db8:1:5::2", "b@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");
        await FeedbackAsync(app, "b@bounce.example");

        (await PostAsync(app, "/signup", "2001:db8:1::9", "c@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK, "the neighbour caused no bounce");
        _bans.Should().BeEmpty("the attribution does not say which /64 of the /48 sent, so there is no network to ban");
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 2612).Should().Be(2);
    }

    [Fact]
    public async Task IPv4Bot_RotatingInsideItsSlash24_BothLayersGroupingBy24_IsBannedAsOneNetwork()
    {
        await using TestApp app = await StartAsync(sendGuardIPv4Prefix: 24, endpointIPv4Prefix: 24);
        (await PostAsync(app, "/signup", "203.0.113.7", "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(app, "/signup", "203.0.113.8", "b@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");
        await FeedbackAsync(app, "b@bounce.example");

        (await PostAsync(app, "/signup", "203.0.113.200", "c@mail.example")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        (await PostAsync(app, "/signup", "203.0.114.1", "d@mail.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        _bans.Should().ContainSingle().Which.ClientNetwork.Should().Be("203.0.113.0/24");
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2908);
    }

    [Fact]
    public async Task Startup_SendGuardGroupsIPv4MoreCoarselyThanTheEndpoints_WarnsThatBounceBansCountNothing()
    {
        // The send guard's attribution names the /24; the policy counts /32s and cannot tell which one sent, so every
        // IPv4 bounce is skipped (2612, at debug level, per bounce). Said once at startup, as a warning.
        await using TestApp app = await StartAsync(sendGuardIPv4Prefix: 24);
        (await PostAsync(app, "/signup", "203.0.113.7", "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");

        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2908).Which.Message.Should().Be(
            "EmailGuard:SendGuard:IPv4PrefixLength is 24 but EmailGuard:Endpoints:IPv4PrefixLength is 32: the send guard attributes mail to wider IPv4 networks "
            + "than the endpoints count, so IPv4 bounces count towards no bounce ban of policies signup. Make the send guard's prefix at least as long as the endpoints'.");
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 2612).Should().Be(1);
    }

    [Fact]
    public async Task Configuration_SetsTheBounceBan()
    {
        await using TestApp app = await StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PolicyDefenses:signup:BounceBan:Bounces"] = "1",
            ["EmailGuard:Endpoints:PolicyDefenses:signup:BounceBan:BanFor"] = "02:00:00",
        });
        (await PostAsync(app, "/signup", Ip, "a@bounce.example")).StatusCode.Should().Be(HttpStatusCode.OK);
        await FeedbackAsync(app, "a@bounce.example");

        (await PostAsync(app, "/signup", Ip, "b@mail.example")).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        _bans.Should().ContainSingle().Which.Duration.Should().Be(TimeSpan.FromHours(2));
    }

    [Theory]
    [InlineData("Bounces", "0", "EmailGuard:Endpoints:PolicyDefenses:signup:BounceBan:Bounces")]
    [InlineData("BanFor", "00:00:00", "EmailGuard:Endpoints:PolicyDefenses:signup:BounceBan:BanFor")]
    [InlineData("Bounse", "2", "EmailGuard:Endpoints:PolicyDefenses:signup:BounceBan:Bounse")]
    public async Task Configuration_Invalid_FailsAtStartWithThePath(string setting, string value, string path)
    {
        Func<Task> start = async () =>
        {
            await using TestApp app = await StartAsync(new Dictionary<string, string?> { [$"EmailGuard:Endpoints:PolicyDefenses:signup:BounceBan:{setting}"] = value });
        };

        (await start.Should().ThrowAsync<Exception>()).Which.Message.Should().Contain(path);
    }
}
