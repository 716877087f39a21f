using System.Net;
using System.Net.Http.Json;
using EmailGuard;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>The key endpoint scenarios again, with the counters in a real Redis.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisEndToEndTests(RedisServerFixture redis)
{
    private Task<TestApp> StartAsync(string prefix, Action<EmailGuardEndpointOptions> configure, Action<WebApplication> map, string? connection = null)
        => TestApp.StartAsync(
            s => s.AddEmailGuard()
                .AddRedisStore(o =>
                {
                    o.Configuration = connection ?? redis.ConnectionString;
                    o.KeyPrefix = prefix;
                    o.UseServerTime = false;
                })
                .AddEndpointPolicies(configure),
            map);

    private Task<TestApp> StartSignupAsync(string prefix) => StartAsync(
        prefix,
        o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(15)))),
        a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

    [Fact]
    public async Task Signup_OnRedis_OneOfTenSucceedsRetryAfterCountsDownSecondIpUnaffected()
    {
        await using TestApp app = await StartSignupAsync(RedisServerFixture.UniquePrefix());

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", "203.0.113.7");
            statuses.Add(response.StatusCode);
        }

        app.Time.Advance(TimeSpan.FromMinutes(5));
        using HttpResponseMessage later = await app.PostAsync("/signup", "203.0.113.7");
        using HttpResponseMessage otherIp = await app.PostAsync("/signup", "198.51.100.20");
        app.Time.Advance(TimeSpan.FromMinutes(10));
        using HttpResponseMessage nextWindow = await app.PostAsync("/signup", "203.0.113.7");

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(1);
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).Should().Be(9);
        later.RetryAfterSeconds().Should().Be(600);
        otherIp.StatusCode.Should().Be(HttpStatusCode.OK);
        nextWindow.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Signup_TwoAppInstancesOnOneRedis_ShareTheCounter()
    {
        string prefix = RedisServerFixture.UniquePrefix();
        await using TestApp first = await StartSignupAsync(prefix);
        await using TestApp second = await StartSignupAsync(prefix);

        using HttpResponseMessage a = await first.PostAsync("/signup", "203.0.113.7");
        using HttpResponseMessage b = await second.PostAsync("/signup", "203.0.113.7");

        a.StatusCode.Should().Be(HttpStatusCode.OK);
        b.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Evasion_OnRedis_SpoofedForwardedForAndIPv6RotationShareOneCounter()
    {
        await using TestApp app = await StartAsync(
            RedisServerFixture.UniquePrefix(),
            o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(3))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        int spoofedOk = 0;
        for (int i = 0; i < 10; i++)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", "203.0.113.7");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", $"10.0.0.{i}");
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            spoofedOk += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        int rotatedOk = 0;
        for (int i = 1; i <= 100; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", $"2001:db8:5:6:{i:x}::{i:x}");
            rotatedOk += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        spoofedOk.Should().Be(3);
        rotatedOk.Should().Be(3);
    }

    [Fact]
    public async Task TargetAddress_OnRedis_VariantsShareOneCounterAndBodyStillBinds()
    {
        string prefix = RedisServerFixture.UniquePrefix();
        await using TestApp app = await StartAsync(
            prefix,
            o => o.AddPolicy("reset", p => p.PerField("email", RateLimitRule.PerHour(2))),
            a => a.MapPost("/reset", (BodyFieldTests.ResetRequest body) => Results.Ok(body.Email)).RequireEmailRateLimit("reset"));

        var statuses = new List<HttpStatusCode>();
        string? bound = null;
        foreach (string email in new[] { "Victim+a@Example.com", "victim@example.com", "VICTIM+b@EXAMPLE.COM" })
        {
            using HttpResponseMessage response = await app.PostAsync("/reset", $"203.0.113.{statuses.Count + 1}", JsonContent.Create(new { email }));
            statuses.Add(response.StatusCode);
            bound ??= await response.Content.ReadFromJsonAsync<string>();
        }

        using StackExchange.Redis.ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        var keys = await RedisServerFixture.ScanWithTtlAsync(multiplexer, prefix);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        bound.Should().Be("Victim+a@Example.com");
        keys.Should().NotBeEmpty();
        keys.Should().OnlyContain(k => !k.Key.ToString().Contains("victim", StringComparison.OrdinalIgnoreCase) && !k.Key.ToString().Contains('@'),
            "addresses are hashed before they become keys");
        keys.Should().OnlyContain(k => k.Ttl != null && k.Ttl <= TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task MultiLimit_OnRedis_PerMinuteAndPerDayBothEnforced()
    {
        await using TestApp app = await StartAsync(
            RedisServerFixture.UniquePrefix(),
            o => o.AddPolicy("reset", p => p.PerClientIp(RateLimitRule.PerMinute(5), RateLimitRule.PerDay(7))),
            a => a.MapPost("/reset", () => Results.Ok()).RequireEmailRateLimit("reset"));

        var okPerMinute = new List<int>();
        for (int minute = 0; minute < 2; minute++)
        {
            int ok = 0;
            for (int i = 0; i < 6; i++)
            {
                using HttpResponseMessage response = await app.PostAsync("/reset", "203.0.113.7");
                ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
            }

            okPerMinute.Add(ok);
            app.Time.Advance(TimeSpan.FromMinutes(1));
        }

        okPerMinute.Should().Equal(5, 2);
    }

    [Fact]
    public async Task DeadRedis_FailClosedPolicy_Answers503AndFailOpenAdmits()
    {
        await using TestApp app = await StartAsync(
            RedisServerFixture.UniquePrefix(),
            o =>
            {
                o.AddPolicy("closed", p => p.PerClientIp(RateLimitRule.PerHour(1)).WithFailureMode(StoreFailureMode.FailClosed));
                o.AddPolicy("open", p => p.PerClientIp(RateLimitRule.PerHour(1)));
            },
            a =>
            {
                a.MapPost("/closed", () => Results.Ok()).RequireEmailRateLimit("closed");
                a.MapPost("/open", () => Results.Ok()).RequireEmailRateLimit("open");
            },
            connection: "127.0.0.1:1,abortConnect=false,connectTimeout=200,syncTimeout=200,asyncTimeout=200");

        using HttpResponseMessage closed = await app.PostAsync("/closed", "203.0.113.7");
        using HttpResponseMessage open1 = await app.PostAsync("/open", "203.0.113.7");
        using HttpResponseMessage open2 = await app.PostAsync("/open", "203.0.113.7");

        closed.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        closed.Header("Retry-After").Should().NotBeNull();
        open1.StatusCode.Should().Be(HttpStatusCode.OK);
        open2.StatusCode.Should().Be(HttpStatusCode.OK, "fail-open admits without counting while the store is down");
    }
}
