using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// rack-attack's Allow2Ban per endpoint policy: every request of a client network counts, admitted or not; the one that
/// reaches the count is still admitted, and the network is banned for far longer than the window.
/// </summary>
public sealed class Allow2BanTests
{
    private const string Ip = "203.0.113.7";
    private readonly List<EmailGuardBanStartedArguments> _bans = [];

    private Task<TestApp> StartAsync(IDictionary<string, string?>? configuration = null, bool withFail2Ban = false)
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnBanStarted = args =>
                {
                    lock (_bans)
                    {
                        _bans.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
                o.AddPolicy("login", p =>
                {
                    p.PerClientIp(RateLimitRule.PerMinute(100)).WithAllow2Ban(b =>
                    {
                        b.MaxRequests = 3;
                        b.Within = TimeSpan.FromMinutes(1);
                        b.BanFor = TimeSpan.FromHours(1);
                    });
                    if (withFail2Ban)
                    {
                        p.WithEscalatingBan(b => b.MaxDenials = 1);
                    }
                });
            }),
            a => a.MapPost("/login", () => Results.Ok()).RequireEmailRateLimit("login"),
            configuration);

    private static async Task<HttpStatusCode> PostAsync(TestApp app, string ip = Ip)
    {
        using HttpResponseMessage response = await app.PostAsync("/login", ip);
        return response.StatusCode;
    }

    [Fact]
    public async Task ThirdRequestInTheWindow_IsAdmitted_ThenBannedForAnHour_ThenFree()
    {
        await using TestApp app = await StartAsync();
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 4; i++)
        {
            statuses.Add(await PostAsync(app));
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        using (HttpResponseMessage banned = await app.PostAsync("/login", Ip))
        {
            banned.RetryAfterSeconds().Should().BeInRange(3_600 - 60, 3_600 + 36, "the ban lasts an hour, not the minute of the window");
        }

        (await PostAsync(app, "198.51.100.9")).Should().Be(HttpStatusCode.OK, "another network is not banned");
        EmailGuardBanStartedArguments ban = _bans.Should().ContainSingle().Subject;
        (ban.PolicyName, ban.ClientNetwork, ban.Duration, ban.Reason).Should().Be(("login", Ip, TimeSpan.FromHours(1), EmailGuardBanReason.Requests));
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 2610).Should().Be(1);

        app.Time.Advance(TimeSpan.FromMinutes(59));
        (await PostAsync(app)).Should().Be(HttpStatusCode.TooManyRequests);
        app.Time.Advance(TimeSpan.FromMinutes(2));
        (await PostAsync(app)).Should().Be(HttpStatusCode.OK, "the ban ended, and banned requests did not count towards the next");
        (await PostAsync(app)).Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task SlowClient_UnderTheCountPerWindow_IsNeverBanned()
    {
        await using TestApp app = await StartAsync();
        for (int i = 0; i < 30; i++)
        {
            (await PostAsync(app)).Should().Be(HttpStatusCode.OK);
            app.Time.Advance(TimeSpan.FromSeconds(31));
        }

        _bans.Should().BeEmpty();
    }

    [Fact]
    public async Task IPv6Bot_RotatingInsideItsSlash64_CountsAsOneNetwork()
    {
        await using TestApp app = await StartAsync();
        for (int i = 0; i < 3; i++)
        {
            (await PostAsync(app, $"2001:db8:1:2::{i + 1:x}")).Should().Be(HttpStatusCode.OK);
        }

        (await PostAsync(app, "2001:db8:1:2:ffff::1")).Should().Be(HttpStatusCode.TooManyRequests);
        _bans.Should().ContainSingle().Which.ClientNetwork.Should().Be("2001:db8:1:2::/64");
    }

    [Fact]
    public async Task NextToFail2Ban_BothApply()
    {
        await using TestApp app = await StartAsync(withFail2Ban: true);
        for (int i = 0; i < 3; i++)
        {
            (await PostAsync(app)).Should().Be(HttpStatusCode.OK);
        }

        (await PostAsync(app)).Should().Be(HttpStatusCode.TooManyRequests);
        _bans.Select(b => b.Reason).Should().Equal(EmailGuardBanReason.Requests);
    }

    [Fact]
    public async Task Configuration_SetsAllow2Ban()
    {
        await using TestApp app = await StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PolicyDefenses:login:Allow2Ban:MaxRequests"] = "1",
            ["EmailGuard:Endpoints:PolicyDefenses:login:Allow2Ban:BanFor"] = "00:10:00",
        });
        (await PostAsync(app)).Should().Be(HttpStatusCode.OK);
        (await PostAsync(app)).Should().Be(HttpStatusCode.TooManyRequests);
        _bans.Should().ContainSingle().Which.Duration.Should().Be(TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task Configuration_SetsOneSetting_TheCodesOtherSettingsStand()
    {
        // Code allows 3 requests; configuration changes only BanFor. MaxRequests must stay 3, not fall back to the
        // default 10, which would let a bot try more than three times as often as the code says.
        await using TestApp app = await StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PolicyDefenses:login:Allow2Ban:BanFor"] = "00:10:00",
        });
        for (int i = 0; i < 3; i++)
        {
            (await PostAsync(app)).Should().Be(HttpStatusCode.OK);
        }

        (await PostAsync(app)).Should().Be(HttpStatusCode.TooManyRequests, "the code's MaxRequests (3) stands");
        _bans.Should().ContainSingle().Which.Duration.Should().Be(TimeSpan.FromMinutes(10), "configuration's BanFor applies");
    }

    [Fact]
    public async Task Allow2BanWithoutClientIpPartition_FailsAtStartWithThePath()
    {
        Func<Task> start = async () =>
        {
            await using TestApp app = await TestApp.StartAsync(
                s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("login", p => p.PerUser(RateLimitRule.PerHour(1)).WithAllow2Ban())),
                a => a.MapPost("/login", () => Results.Ok()).RequireEmailRateLimit("login"));
        };

        (await start.Should().ThrowAsync<Exception>()).Which.Message.Should().Contain("EmailGuard:Endpoints:PolicyDefenses:login:Allow2Ban");
    }
}
