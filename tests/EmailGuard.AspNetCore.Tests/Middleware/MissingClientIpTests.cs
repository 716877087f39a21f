using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Requests without <c>Connection.RemoteIpAddress</c> (TestServer gives none; a Unix socket behind a proxy neither)
/// used to share one silent bucket, so one client could spend everybody's quota.
/// </summary>
public sealed class MissingClientIpTests
{
    private static Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy, MissingClientIpBehavior? behavior = null, IDictionary<string, string?>? configuration = null)
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                if (behavior is { } b)
                {
                    o.MissingClientIp = b;
                }

                o.AddPolicy("signup", policy);
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            configuration);

    /// <summary>No test IP header, so the request reaches EmailGuard without a client address.</summary>
    private static async Task<List<HttpStatusCode>> SendWithoutAddressAsync(TestApp app, int times, Func<int, HttpContent?>? body = null)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < times; i++)
        {
            using HttpResponseMessage response = await app.Client.PostAsync("/signup", body?.Invoke(i));
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task Default_RejectsWith400AndWarnsOnce()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(100)));

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 3);
        using HttpResponseMessage withAddress = await app.PostAsync("/signup", "203.0.113.1");
        using HttpResponseMessage problem = await app.Client.PostAsync("/signup", null);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        withAddress.StatusCode.Should().Be(HttpStatusCode.OK);
        problem.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await problem.Content.ReadAsStringAsync()).Should().Contain("network address is unknown");
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 1500).Should().ContainSingle().Which.Level.Should().Be(LogLevel.Warning);
    }

    [Fact]
    public async Task ClientNetworkPartitionAlone_IsCountedPerClientToo_RejectedWithoutAnAddress()
    {
        await using TestApp app = await StartAsync(p => p.PerClientNetwork(24, 48, RateLimitRule.PerHour(100)));

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 2);
        using HttpResponseMessage withAddress = await app.PostAsync("/signup", "203.0.113.1");

        statuses.Should().OnlyContain(s => s == HttpStatusCode.BadRequest);
        withAddress.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ClientNetworkPartition_ShareOneBucket_AddresslessRequestsShareTheNetworkLimit()
    {
        await using TestApp app = await StartAsync(p => p.PerClientNetwork(24, 48, RateLimitRule.PerHour(2)), MissingClientIpBehavior.ShareOneBucket);

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 4);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ShareOneBucket_AllAddresslessRequestsShareTheLimit()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(2)), MissingClientIpBehavior.ShareOneBucket);

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 4);
        using HttpResponseMessage withAddress = await app.PostAsync("/signup", "203.0.113.1");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        withAddress.StatusCode.Should().Be(HttpStatusCode.OK, "clients with an address keep their own buckets");
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 1500).Should().Be(1);
    }

    [Fact]
    public async Task Skip_ClientIpPartitionLeftOutOtherPartitionsStillApply()
    {
        await using TestApp app = await StartAsync(
            p => p.PerClientIp(RateLimitRule.PerHour(1)).PerField("email", RateLimitRule.PerHour(2)), MissingClientIpBehavior.Skip);

        List<HttpStatusCode> distinct = await SendWithoutAddressAsync(app, 3, i => BindingContent.Json($"{{\"email\":\"user{i}@example.com\"}}"));
        List<HttpStatusCode> same = await SendWithoutAddressAsync(app, 3, _ => BindingContent.Json("{\"email\":\"victim@example.com\"}"));

        distinct.Should().OnlyContain(s => s == HttpStatusCode.OK, "the per-IP limit of 1 is not applied");
        same.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 1500).Should().Be(1);
    }

    [Fact]
    public async Task Reject_PolicyWithoutClientIpPartition_Unaffected()
    {
        await using TestApp app = await StartAsync(p => p.PerKey("all", _ => "all", RateLimitRule.PerHour(2)));

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 3);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 1500);
    }

    [Fact]
    public async Task Reject_ShadowPolicy_NeverBlocks()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)).InShadowMode());

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 3);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task Reject_PerIpPathRule_AlsoRefuses()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/webhook", () => Results.Ok()),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/webhook",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "60",
            });

        using HttpResponseMessage response = await app.Client.PostAsync("/webhook", null);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Configuration_BindsBehaviorByName()
    {
        await using TestApp app = await StartAsync(
            p => p.PerClientIp(RateLimitRule.PerHour(1)),
            configuration: new Dictionary<string, string?> { ["EmailGuard:Endpoints:MissingClientIp"] = "ShareOneBucket" });

        List<HttpStatusCode> statuses = await SendWithoutAddressAsync(app, 2);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Configuration_UndefinedValue_FailsStartupNamingTheSetting()
    {
        Func<Task> start = () => StartAsync(
            p => p.PerClientIp(RateLimitRule.PerHour(1)),
            configuration: new Dictionary<string, string?> { ["EmailGuard:Endpoints:MissingClientIp"] = "7" });

        (await start.Should().ThrowAsync<Exception>()).Which.ToString().Should().Contain("EmailGuard:Endpoints:MissingClientIp");
    }
}
