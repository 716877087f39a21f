using System.Diagnostics.Metrics;
using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.AspNetCore.Tests;

public sealed class ModeTests
{
    private static Task<TestApp> StartAsync(Action<EmailGuardEndpointOptions> options, Action<EmailRateLimitPolicyBuilder> policy, Action<IServiceCollection>? services = null)
        => TestApp.StartAsync(
            s =>
            {
                services?.Invoke(s);
                s.AddEmailGuard().AddEndpointPolicies(o =>
                {
                    options(o);
                    o.AddPolicy("p", policy);
                });
            },
            a =>
            {
                TestApp.UseUserHeader(a);
                a.UseEmailGuard();
                a.MapPost("/x", () => Results.Ok()).RequireEmailRateLimit("p");
            },
            useEmailGuard: false);

    private static async Task<List<HttpStatusCode>> PostTimesAsync(TestApp app, int times, string ip = "203.0.113.1", string? user = null)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < times; i++)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/x", ip);
            if (user is not null)
            {
                request.Headers.Add("X-Test-User", user);
            }

            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task ShadowMode_OverLimit_NeverBlocksButLogsAndCounts()
    {
        await using TestApp app = await StartAsync(_ => { }, p => p.PerClientIp(RateLimitRule.PerHour(2)).InShadowMode());
        using var collector = new MetricCollector<long>(app.App.Services.GetRequiredService<IMeterFactory>(), "EmailGuard", "emailguard.endpoint.decisions");

        List<HttpStatusCode> statuses = await PostTimesAsync(app, 5);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 202).Should().Be(3);
        collector.GetMeasurementSnapshot().Count(m => (string?)m.Tags["emailguard.outcome"] == "shadow_rejected").Should().Be(3);
        collector.GetMeasurementSnapshot().Count(m => (string?)m.Tags["emailguard.outcome"] == "allowed").Should().Be(2);
    }

    [Fact]
    public async Task Rejection_Enforced_LogsRejectionAndCountsMetric()
    {
        await using TestApp app = await StartAsync(_ => { }, p => p.PerClientIp(RateLimitRule.PerHour(1)));
        using var collector = new MetricCollector<long>(app.App.Services.GetRequiredService<IMeterFactory>(), "EmailGuard", "emailguard.endpoint.decisions");

        await PostTimesAsync(app, 3);

        app.Logs.GetSnapshot().Count(r => r.Id.Id == 201).Should().Be(2);
        collector.GetMeasurementSnapshot().Should().Contain(m => (string?)m.Tags["emailguard.policy"] == "p" && (string?)m.Tags["emailguard.outcome"] == "rejected");
    }

    [Fact]
    public async Task AllowlistedNetwork_Cidr_NeverLimited()
    {
        await using TestApp app = await StartAsync(o => o.AllowlistedNetworks.Add("10.20.0.0/16"), p => p.PerClientIp(RateLimitRule.PerHour(1)));

        (await PostTimesAsync(app, 5, "10.20.30.40")).Should().OnlyContain(s => s == HttpStatusCode.OK);
        (await PostTimesAsync(app, 2, "10.21.0.1")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task AllowlistedNetwork_IPv6Range_NeverLimited()
    {
        await using TestApp app = await StartAsync(o => o.AllowlistedNetworks.Add("2001:db8:aa::/48"), p => p.PerClientIp(RateLimitRule.PerHour(1)));

        (await PostTimesAsync(app, 3, "2001:db8:aa:1::5")).Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task AllowlistedNetwork_IPv4MappedForm_IsTheIPv4NetworkItCarries()
    {
        // The lists read ::ffff:10.20.0.0/112 as 10.20.0.0/16; AllowlistedNetworks refused it as "not an IP address".
        await using TestApp app = await StartAsync(o => o.AllowlistedNetworks.Add("::ffff:10.20.0.0/112"), p => p.PerClientIp(RateLimitRule.PerHour(1)));

        (await PostTimesAsync(app, 5, "10.20.30.40")).Should().OnlyContain(s => s == HttpStatusCode.OK);
        (await PostTimesAsync(app, 2, "10.21.0.1")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task AllowlistedUser_NeverLimited_OthersAre()
    {
        await using TestApp app = await StartAsync(o => o.AllowlistedUsers.Add("ops"), p => p.PerClientIp(RateLimitRule.PerHour(1)));

        (await PostTimesAsync(app, 3, user: "ops")).Should().OnlyContain(s => s == HttpStatusCode.OK);
        (await PostTimesAsync(app, 2, user: "mallory")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task AllowlistPredicate_True_NeverLimited()
    {
        await using TestApp app = await StartAsync(
            o => o.AllowlistPredicate = c => c.Request.Headers.ContainsKey("X-Internal"),
            p => p.PerClientIp(RateLimitRule.PerHour(1)));

        for (int i = 0; i < 3; i++)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/x", "203.0.113.1");
            request.Headers.Add("X-Internal", "1");
            (await app.Client.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        (await PostTimesAsync(app, 2)).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task OnRejected_WritesCustomResponseWithRetryAfterAndDecision()
    {
        EmailRateLimitRejectedContext? seen = null;
        await using TestApp app = await StartAsync(
            o => o.OnRejected = async rejected =>
            {
                seen = rejected;
                rejected.HttpContext.Response.ContentType = "text/plain";
                await rejected.HttpContext.Response.WriteAsync($"Try again in {Math.Ceiling(rejected.RetryAfter.TotalMinutes)} minutes.");
            },
            p => p.PerClientIp(RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(15))));
        await PostTimesAsync(app, 1);
        app.Time.Advance(TimeSpan.FromMinutes(1));

        using HttpResponseMessage response = await app.PostAsync("/x", "203.0.113.1");

        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        response.Header("Retry-After").Should().Be("840");
        (await response.Content.ReadAsStringAsync()).Should().Be("Try again in 14 minutes.");
        seen!.PolicyName.Should().Be("p");
        seen.PartitionKind.Should().Be("ip");
        seen.RetryAfter.Should().Be(TimeSpan.FromSeconds(840));
        seen.Decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        seen.Rule!.Limit.Should().Be(1);
    }

    [Fact]
    public async Task RejectionStatusCode_Configured_Used()
    {
        await using TestApp app = await StartAsync(o => o.RejectionStatusCode = 503, p => p.PerClientIp(RateLimitRule.PerHour(1)));

        (await PostTimesAsync(app, 2)).Should().Equal(HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task QuotaHeaders_OptedIn_AllowedResponsesCarryRemaining()
    {
        await using TestApp app = await StartAsync(_ => { }, p => p.PerClientIp(RateLimitRule.PerMinute(5), RateLimitRule.PerHour(3)).WithQuotaHeaders());
        app.Time.Advance(TimeSpan.FromSeconds(20));

        using HttpResponseMessage response = await app.PostAsync("/x", "203.0.113.1");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Header("RateLimit-Policy").Should().Be("\"p.ip.60s\";q=5;w=60, \"p.ip.3600s\";q=3;w=3600");
        response.Header("RateLimit").Should().Be("\"p.ip.3600s\";r=2;t=3580");
    }

    [Fact]
    public async Task FailClosed_StoreDown_Answers503WithRetryAfter()
    {
        await using TestApp app = await StartAsync(_ => { }, p => p.PerClientIp(RateLimitRule.PerHour(1)).WithFailureMode(StoreFailureMode.FailClosed),
            s => s.AddSingleton<IRateLimitStore, ThrowingStore>());

        using HttpResponseMessage response = await app.PostAsync("/x", "203.0.113.1");

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Header("Retry-After").Should().Be("1");
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 204);
    }

    [Fact]
    public async Task FailOpen_StoreDown_Admits()
    {
        await using TestApp app = await StartAsync(_ => { }, p => p.PerClientIp(RateLimitRule.PerHour(1)),
            s => s.AddSingleton<IRateLimitStore, ThrowingStore>());

        (await PostTimesAsync(app, 3)).Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task HeaderFlood_ManyAndGiantHeaders_NeverServerError()
    {
        await using TestApp app = await StartAsync(_ => { }, p => p.PerClientIp(RateLimitRule.PerHour(1)).PerTenantHeader("X-Tenant", RateLimitRule.PerHour(5)));
        HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/x", "203.0.113.1");
        for (int i = 0; i < 2000; i++)
        {
            request.Headers.TryAddWithoutValidation($"X-Flood-{i}", new string('f', 64));
        }

        request.Headers.TryAddWithoutValidation("X-Tenant", new string('t', 100_000));
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", string.Join(",", Enumerable.Range(0, 5000).Select(i => $"10.0.{i / 256}.{i % 256}")));

        using HttpResponseMessage first = await app.Client.SendAsync(request);
        using HttpResponseMessage second = await app.PostAsync("/x", "203.0.113.1");

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    private sealed class ThrowingStore : IRateLimitStore
    {
        public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("store down");

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("store down");

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("store down");

        public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("store down");
    }
}
