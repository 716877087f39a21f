using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class EscalatingBanTests
{
    private const string Ip = "203.0.113.7";

    private static async Task<HttpStatusCode> PostAsync(TestApp app, string ip, string user, string? forwardedFor = null)
    {
        using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", ip);
        request.Headers.Add("X-Test-User", user);
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        using HttpResponseMessage response = await app.Client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpResponseMessage> PostResponseAsync(TestApp app, string ip, string user)
    {
        using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", ip);
        request.Headers.Add("X-Test-User", user);
        return await app.Client.SendAsync(request);
    }

    [Fact]
    public async Task ThreeDenials_BanStarts_EveryRequestOfTheNetworkAnswers429UntilItEnds()
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await StartWithUserAsync(bans);

        var first = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            first.Add(await PostAsync(app, Ip, "bot"));
        }

        // Another user from the same network, who has quota of their own, is banned too.
        using HttpResponseMessage banned = await PostResponseAsync(app, Ip, "fresh-user");
        HttpStatusCode otherNetwork = await PostAsync(app, "198.51.100.9", "fresh-user");

        first.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        banned.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        banned.RetryAfterSeconds().Should().BeInRange(3600, 3600 + 36, "the ban lasts an hour, to within one of its 100 segments");
        otherNetwork.Should().Be(HttpStatusCode.OK);
        bans.Should().ContainSingle();
        bans[0].PolicyName.Should().Be("signup");
        bans[0].ClientNetwork.Should().Be(Ip);
        bans[0].Duration.Should().Be(TimeSpan.FromHours(1));
        bans[0].Repeat.Should().Be(1);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 1800).Should().Be(1);
    }

    [Fact]
    public async Task BannedRequests_DoNotConsumeThePolicyQuota()
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await StartWithUserAsync(bans);
        for (int i = 0; i < 5; i++)
        {
            await PostAsync(app, Ip, "bot");
        }

        // While banned, "victim" tries 10 times from the banned network; none of it may count.
        for (int i = 0; i < 10; i++)
        {
            (await PostAsync(app, Ip, "victim")).Should().Be(HttpStatusCode.TooManyRequests);
        }

        HttpStatusCode a = await PostAsync(app, "198.51.100.9", "victim");
        HttpStatusCode b = await PostAsync(app, "198.51.100.9", "victim");
        HttpStatusCode c = await PostAsync(app, "198.51.100.9", "victim");

        new[] { a, b, c }.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Ban_Expires_ThenRepeatEscalatesToTwiceAsLong()
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await StartWithUserAsync(bans);
        for (int i = 0; i < 5; i++)
        {
            await PostAsync(app, Ip, "bot");
        }

        app.Time.Advance(TimeSpan.FromMinutes(59));
        HttpStatusCode stillBanned = await PostAsync(app, Ip, "other");
        app.Time.Advance(TimeSpan.FromMinutes(2));
        HttpStatusCode afterBan = await PostAsync(app, Ip, "other");

        // The hour of the "bot" user is over too: two more, then three denials ban again, for two hours.
        var second = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            second.Add(await PostAsync(app, Ip, "bot2"));
        }

        using HttpResponseMessage secondBan = await PostResponseAsync(app, Ip, "other2");

        stillBanned.Should().Be(HttpStatusCode.TooManyRequests);
        afterBan.Should().Be(HttpStatusCode.OK);
        second.Count(s => s == HttpStatusCode.OK).Should().Be(2);
        bans.Select(b => (b.Repeat, b.Duration)).Should().Equal((1, TimeSpan.FromHours(1)), (2, TimeSpan.FromHours(2)));
        secondBan.RetryAfterSeconds().Should().BeInRange(7200, 7200 + 72);
    }

    [Fact]
    public async Task BannedIPv6Client_RotatingInsideItsSlash64_StaysBanned()
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await StartWithUserAsync(bans);
        for (int i = 0; i < 5; i++)
        {
            await PostAsync(app, $"2001:db8:1:2::{i + 1:x}", "bot");
        }

        HttpStatusCode rotated = await PostAsync(app, "2001:db8:1:2:ffff:ffff:ffff:fffe", "fresh");
        HttpStatusCode neighbour = await PostAsync(app, "2001:db8:1:3::1", "fresh");

        bans.Should().ContainSingle().Which.ClientNetwork.Should().Be("2001:db8:1:2::/64");
        rotated.Should().Be(HttpStatusCode.TooManyRequests);
        neighbour.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BannedClient_SpoofingXForwardedFor_StaysBanned()
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await StartWithUserAsync(bans);
        for (int i = 0; i < 5; i++)
        {
            await PostAsync(app, Ip, "bot");
        }

        var spoofed = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            spoofed.Add(await PostAsync(app, Ip, $"fresh{i}", forwardedFor: $"198.51.100.{i + 1}"));
        }

        spoofed.Should().OnlyContain(s => s == HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task BanConfiguredInConfiguration_OverridesCode()
    {
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnBanStarted = args =>
                {
                    bans.Add(args);
                    return ValueTask.CompletedTask;
                };
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)));
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PolicyDefenses:signup:EscalatingBan:MaxDenials"] = "2",
                ["EmailGuard:Endpoints:PolicyDefenses:signup:EscalatingBan:BanFor"] = "00:30:00",
            });

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", Ip);
        }

        bans.Should().ContainSingle().Which.Duration.Should().Be(TimeSpan.FromMinutes(30));
    }

    [Fact]
    public async Task BanSetInCodeAndOneSettingInConfiguration_ConfigurationWinsForThatSettingOnly()
    {
        // Code bans for 2 h; configuration changes only MaxDenials. The 2 h must stand: a setting configuration leaves
        // out keeps the code's value, not the default (1 h), or tuning one setting would silently shorten every ban.
        var bans = new List<EmailGuardBanStartedArguments>();
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnBanStarted = args =>
                {
                    bans.Add(args);
                    return ValueTask.CompletedTask;
                };
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)).WithEscalatingBan(b =>
                {
                    b.MaxDenials = 5;
                    b.BanFor = TimeSpan.FromHours(2);
                    b.MaxBanFor = TimeSpan.FromDays(2);
                }));
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PolicyDefenses:signup:EscalatingBan:MaxDenials"] = "2",
            });

        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", Ip);
        }

        bans.Should().ContainSingle("configuration's MaxDenials (2) applies").Which.Duration.Should().Be(TimeSpan.FromHours(2), "the code's BanFor stands");
    }

    [Fact]
    public async Task BanOnPolicyWithoutClientIpPartition_FailsAtStartWithTheSettingPath()
    {
        Func<Task> start = async () =>
        {
            await using TestApp app = await TestApp.StartAsync(
                s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerUser(RateLimitRule.PerHour(1)).WithEscalatingBan())),
                a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));
        };

        (await start.Should().ThrowAsync<Exception>()).Which.Message.Should().Contain("EmailGuard:Endpoints:PolicyDefenses:signup:EscalatingBan");
    }

    private static Task<TestApp> StartWithUserAsync(List<EmailGuardBanStartedArguments> bans)
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnBanStarted = args =>
                {
                    lock (bans)
                    {
                        bans.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
                o.AddPolicy("signup", p => p
                    .PerClientIp(RateLimitRule.PerHour(100))
                    .PerKey("user", c => c.Request.Headers["X-Test-User"].ToString(), RateLimitRule.PerHour(2))
                    .WithEscalatingBan(b =>
                    {
                        b.MaxDenials = 3;
                        b.Within = TimeSpan.FromMinutes(10);
                        b.BanFor = TimeSpan.FromHours(1);
                        b.EscalationFactor = 2;
                        b.MaxBanFor = TimeSpan.FromHours(4);
                    }));
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));
}
