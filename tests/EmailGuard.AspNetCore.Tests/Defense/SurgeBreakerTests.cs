using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class SurgeBreakerTests
{
    private static Task<TestApp> StartAsync(Action<EmailGuardSurgeBreakerOptions> surge, List<string> events)
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnSurgeBreakerTripped = a =>
                {
                    lock (events)
                    {
                        events.Add($"tripped {a.RequestsThisMinute}/{a.Threshold}");
                    }

                    return ValueTask.CompletedTask;
                };
                o.OnSurgeBreakerRecovered = a =>
                {
                    lock (events)
                    {
                        events.Add("recovered");
                    }

                    return ValueTask.CompletedTask;
                };
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(5)).WithSurgeBreaker(surge));
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

    /// <summary>A distributed bot: each request from its own address, so no per-IP limit ever binds.</summary>
    private static async Task<List<HttpStatusCode>> FloodAsync(TestApp app, int count, int start = 0)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = start; i < start + count; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}");
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task AbsoluteThreshold_Exceeded_TripsAndChallenges_RecoversAfterTripFor()
    {
        var events = new List<string>();
        await using TestApp app = await StartAsync(o =>
        {
            o.ThresholdPerMinute = 20;
            o.TripFor = TimeSpan.FromMinutes(10);
        }, events);

        List<HttpStatusCode> flood = await FloodAsync(app, 25);
        using HttpResponseMessage challenged = await app.PostAsync("/signup", "198.51.100.1");
        app.Time.Advance(TimeSpan.FromMinutes(11));
        using HttpResponseMessage recovered = await app.PostAsync("/signup", "198.51.100.2");

        flood.Take(20).Should().OnlyContain(s => s == HttpStatusCode.OK);
        flood.Skip(20).Should().OnlyContain(s => s == HttpStatusCode.Forbidden);
        challenged.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        using JsonDocument body = JsonDocument.Parse(await challenged.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("type").GetString().Should().Be(EmailGuardChallenge.ProblemType);
        challenged.Headers.Contains("Retry-After").Should().BeFalse();
        recovered.StatusCode.Should().Be(HttpStatusCode.OK);
        events.Should().Equal("tripped 21/20", "recovered");
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 1802).Should().Be(1);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 1803).Should().Be(1);
    }

    [Fact]
    public async Task SurgeGoesOn_BreakerReArmsAfterTripFor()
    {
        var events = new List<string>();
        await using TestApp app = await StartAsync(o =>
        {
            o.ThresholdPerMinute = 20;
            o.TripFor = TimeSpan.FromMinutes(2);
        }, events);

        await FloodAsync(app, 25);
        app.Time.Advance(TimeSpan.FromMinutes(3));
        List<HttpStatusCode> second = await FloodAsync(app, 25, start: 1000);

        second.Take(20).Should().OnlyContain(s => s == HttpStatusCode.OK);
        second.Skip(20).Should().OnlyContain(s => s == HttpStatusCode.Forbidden);
        events.Should().Equal("tripped 21/20", "recovered", "tripped 21/20");
    }

    [Fact]
    public async Task BaselineMultiple_LearnsNormalTraffic_TripsOnTenTimesIt()
    {
        var events = new List<string>();
        await using TestApp app = await StartAsync(o =>
        {
            o.BaselineMultiple = 10;
            o.BaselineFloorPerMinute = 2;
            o.BaselineSmoothing = 0.5;
        }, events);

        // Ten quiet minutes of 4 signups each teach a baseline of 4.
        for (int minute = 0; minute < 10; minute++)
        {
            (await FloodAsync(app, 4, start: minute * 4)).Should().OnlyContain(s => s == HttpStatusCode.OK);
            app.Time.Advance(TimeSpan.FromMinutes(1));
        }

        List<HttpStatusCode> surge = await FloodAsync(app, 45, start: 5000);

        surge.Take(40).Should().OnlyContain(s => s == HttpStatusCode.OK);
        surge.Skip(40).Should().OnlyContain(s => s == HttpStatusCode.Forbidden);
        events.Should().Equal("tripped 41/40");
    }

    [Fact]
    public async Task DenyAction_Tripped_Answers429WithRetryAfterOfTheTrip()
    {
        var events = new List<string>();
        await using TestApp app = await StartAsync(o =>
        {
            o.ThresholdPerMinute = 5;
            o.TripFor = TimeSpan.FromMinutes(10);
            o.Action = EmailGuardSurgeAction.Deny;
        }, events);

        List<HttpStatusCode> flood = await FloodAsync(app, 6);
        using HttpResponseMessage denied = await app.PostAsync("/signup", "198.51.100.1");

        flood.Should().Equal(Enumerable.Repeat(HttpStatusCode.OK, 5).Append(HttpStatusCode.TooManyRequests));
        denied.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        denied.RetryAfterSeconds().Should().BeInRange(600, 606);
    }
}
