using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A policy made only of partitions whose value a request may lack (a tenant header, a tenant claim, the user) counted
/// such a request in nothing, with no trace: an attacker paid to send 10,000 mails left the header out and passed the
/// limit, and so did every request behind a gateway that dropped it. Such a request is now measured and logged, and
/// <see cref="MissingValueBehavior"/> lets the policy count it in a shared bucket or refuse it.
/// </summary>
public sealed class MissingPartitionValueTests
{
    private const string Uncounted = "emailguard.endpoint.uncounted_requests";

    /// <summary>Signs a request in when it carries <c>X-Test-Tenant-User</c>, with the <c>tenant_id</c> claim only when it carries <c>X-Test-Tenant</c>.</summary>
    private static void UseTenantClaim(IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (context.Request.Headers.TryGetValue("X-Test-Tenant-User", out var user))
        {
            List<Claim> claims = [new Claim(ClaimTypes.NameIdentifier, user.ToString())];
            if (context.Request.Headers.TryGetValue("X-Test-Tenant", out var tenant))
            {
                claims.Add(new Claim("tenant_id", tenant.ToString()));
            }

            context.User = new ClaimsPrincipal(new ClaimsIdentity(claims, "test"));
        }

        return next(context);
    });

    private static Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy, IDictionary<string, string?>? configuration = null)
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", policy)),
            a => a.MapPost("/invite", () => Results.Ok()).RequireEmailRateLimit("invite"),
            configuration,
            beforeRouting: UseTenantClaim);

    private static async Task<List<HttpStatusCode>> SendAsync(TestApp app, int times, params (string Name, string Value)[] headers)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < times; i++)
        {
            // Each from its own address: the per-IP limits of other tests' policies never decide here.
            using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/invite", $"203.0.113.{i % 250}");
            foreach ((string name, string value) in headers)
            {
                request.Headers.Add(name, value);
            }

            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    private static MetricCollector<long> Collect(TestApp app, string instrument)
        => new(app.App.Services.GetRequiredService<IMeterFactory>(), "EmailGuard", instrument);

    private static IReadOnlyList<FakeLogRecord> Warnings(TestApp app) => [.. app.Logs.GetSnapshot().Where(r => r.Id.Id == 3118)];

    private static string? State(FakeLogRecord record, string key) => record.StructuredState!.Single(p => p.Key == key).Value;

    [Theory]
    [InlineData(MissingValueBehavior.Skip, 10)]
    [InlineData(MissingValueBehavior.ShareOneBucket, 2)]
    [InlineData(MissingValueBehavior.Reject, 0)]
    public async Task TenantHeaderOmitted_AdmitsAsTheBehaviorSays(MissingValueBehavior behavior, int admitted)
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)).WhenValueMissing(behavior));

        List<HttpStatusCode> without = await SendAsync(app, 10);
        List<HttpStatusCode> acme = await SendAsync(app, 3, ("X-Tenant", "acme"));

        without.Count(s => s == HttpStatusCode.OK).Should().Be(admitted);
        without.Should().OnlyContain(s => s == HttpStatusCode.OK || s == (behavior == MissingValueBehavior.Reject ? HttpStatusCode.BadRequest : HttpStatusCode.TooManyRequests));
        acme.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], "a tenant that sends the header keeps its own limit");
    }

    [Theory]
    [InlineData(MissingValueBehavior.Skip, 10)]
    [InlineData(MissingValueBehavior.ShareOneBucket, 2)]
    [InlineData(MissingValueBehavior.Reject, 0)]
    public async Task TenantClaimOmitted_AdmitsAsTheBehaviorSays(MissingValueBehavior behavior, int admitted)
    {
        await using TestApp app = await StartAsync(p => p.PerTenantClaim("tenant_id", RateLimitRule.PerHour(2)).WhenValueMissing(behavior));

        // Signed in, each as a fresh user, without the tenant claim.
        var without = new List<HttpStatusCode>();
        for (int i = 0; i < 10; i++)
        {
            without.AddRange(await SendAsync(app, 1, ("X-Test-Tenant-User", $"user{i}")));
        }

        List<HttpStatusCode> acme = await SendAsync(app, 3, ("X-Test-Tenant-User", "ann"), ("X-Test-Tenant", "acme"));

        without.Count(s => s == HttpStatusCode.OK).Should().Be(admitted);
        acme.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task AnonymousUser_ShareOneBucket_AnonymousRequestsShareTheUserLimit()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", p => p.PerUser(RateLimitRule.PerHour(3)).WhenValueMissing(MissingValueBehavior.ShareOneBucket))),
            a => a.MapPost("/invite", () => Results.Ok()).RequireEmailRateLimit("invite"),
            beforeRouting: TestApp.UseUserHeader);

        List<HttpStatusCode> anonymous = await SendAsync(app, 5);
        List<HttpStatusCode> ann = await SendAsync(app, 3, (TestApp.UserHeader, "ann"));

        anonymous.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        ann.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task ShareOneBucket_BlankHeader_CountsInTheBucketOfTheOmittedOne()
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)).WhenValueMissing(MissingValueBehavior.ShareOneBucket));

        List<HttpStatusCode> omitted = await SendAsync(app, 1);
        List<HttpStatusCode> blank = await SendAsync(app, 2, ("X-Tenant", " \u200B"));

        omitted.Should().Equal(HttpStatusCode.OK);
        blank.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests], "a tenant of nothing but white space is no other party than no tenant");
    }

    [Fact]
    public async Task Skip_HeaderOmitted_EachRequestMeasuredAndOneWarningPerInterval()
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)));
        using MetricCollector<long> uncounted = Collect(app, Uncounted);

        await SendAsync(app, 50);
        IReadOnlyList<FakeLogRecord> flood = Warnings(app);
        app.Time.Advance(UncountedRequests.LogInterval - TimeSpan.FromSeconds(1));
        await SendAsync(app, 10);
        int beforeInterval = Warnings(app).Count;
        app.Time.Advance(TimeSpan.FromSeconds(1));
        await SendAsync(app, 1);
        await SendAsync(app, 5, ("X-Tenant", "acme"));

        uncounted.GetMeasurementSnapshot().Should().HaveCount(61)
            .And.OnlyContain(m => m.Value == 1 && (string?)m.Tags["emailguard.policy"] == "invite");
        flood.Should().ContainSingle().Which.Level.Should().Be(LogLevel.Warning);
        State(flood[0], "Requests").Should().Be("1");
        State(flood[0], "Policy").Should().Be("invite");
        State(flood[0], "Partitions").Should().Be("tenant header 'X-Tenant'");
        beforeInterval.Should().Be(1, "50 more requests within the interval add no line");
        IReadOnlyList<FakeLogRecord> all = Warnings(app);
        all.Should().HaveCount(2);
        State(all[1], "Requests").Should().Be("60", "the second line speaks for every request since the first");
    }

    [Fact]
    public async Task Skip_ReloadWithinTheInterval_NextWarningSpeaksForTheRequestsBeforeIt()
    {
        await using TestApp app = await StartAsync(
            p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)),
            new Dictionary<string, string?> { ["EmailGuard:Endpoints:QuotaHeadersOnAllowedResponses"] = "false" });

        await SendAsync(app, 1);
        await SendAsync(app, 10);
        app.App.Configuration["EmailGuard:Endpoints:QuotaHeadersOnAllowedResponses"] = "true";
        ((IConfigurationRoot)app.App.Configuration).Reload();
        await SendAsync(app, 1);
        int afterReload = Warnings(app).Count;
        app.Time.Advance(UncountedRequests.LogInterval);
        await SendAsync(app, 1);

        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 206, "the options reloaded");
        afterReload.Should().Be(1, "the reload does not restart the interval: the request after it is within the first line's 5 minutes");
        IReadOnlyList<FakeLogRecord> all = Warnings(app);
        all.Should().HaveCount(2);
        State(all[1], "Requests").Should().Be("12", "the 10 before the reload, the one after it within the interval, and this one");
    }

    [Fact]
    public async Task Skip_PathRule_ReloadWithinTheInterval_NextWarningSpeaksForTheRequestsBeforeIt()
    {
        // A path rule counts per client IP; with MissingClientIp Skip, a request without an address is counted in none of
        // its partitions, as a policy's without its header. A reload builds the path rules anew: the rule of the same
        // pattern keeps the interval and the count not yet logged, as a policy does.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/webhook", () => Results.Ok()),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:MissingClientIp"] = "Skip",
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/webhook",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "60",
                ["EmailGuard:Endpoints:QuotaHeadersOnAllowedResponses"] = "false",
            });
        using MetricCollector<long> uncounted = Collect(app, Uncounted);
        async Task PostAsync(int times)
        {
            for (int i = 0; i < times; i++)
            {
                // No test IP header: the request reaches EmailGuard without a client address.
                using HttpResponseMessage response = await app.Client.PostAsync("/webhook", null);
                response.StatusCode.Should().Be(HttpStatusCode.OK);
            }
        }

        await PostAsync(1);
        await PostAsync(10);
        app.App.Configuration["EmailGuard:Endpoints:QuotaHeadersOnAllowedResponses"] = "true";
        ((IConfigurationRoot)app.App.Configuration).Reload();
        await PostAsync(1);
        int afterReload = Warnings(app).Count;
        app.Time.Advance(UncountedRequests.LogInterval);
        await PostAsync(1);

        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 206, "the options reloaded");
        uncounted.GetMeasurementSnapshot().Should().HaveCount(13);
        afterReload.Should().Be(1, "the reload does not restart the path rule's interval");
        IReadOnlyList<FakeLogRecord> all = Warnings(app);
        all.Should().HaveCount(2);
        State(all[0], "Policy").Should().Be(State(all[1], "Policy"));
        State(all[1], "Requests").Should().Be("12", "the 10 before the reload, the one after it within the interval, and this one");
    }

    [Fact]
    public async Task ShadowPolicy_HeaderOmitted_MeasuredAndWarnedAndNeverBlocked()
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(1)).WhenValueMissing(MissingValueBehavior.Reject).InShadowMode());
        using MetricCollector<long> uncounted = Collect(app, Uncounted);

        List<HttpStatusCode> statuses = await SendAsync(app, 4);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK, "a shadow policy never blocks, so it leaves the partition out");
        uncounted.GetMeasurementSnapshot().Should().HaveCount(4);
        Warnings(app).Should().ContainSingle();
    }

    [Theory]
    [InlineData(MissingValueBehavior.ShareOneBucket)]
    [InlineData(MissingValueBehavior.Reject)]
    public async Task CountedOrRefused_NotMeasuredAsUncounted(MissingValueBehavior behavior)
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)).WhenValueMissing(behavior));
        using MetricCollector<long> uncounted = Collect(app, Uncounted);

        await SendAsync(app, 4);

        uncounted.GetMeasurementSnapshot().Should().BeEmpty();
        Warnings(app).Should().BeEmpty();
    }

    [Fact]
    public async Task OtherPartitionCounts_NotMeasuredAsUncounted()
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)).PerClientIp(RateLimitRule.PerHour(100)));
        using MetricCollector<long> uncounted = Collect(app, Uncounted);

        await SendAsync(app, 4);

        uncounted.GetMeasurementSnapshot().Should().BeEmpty("the per-IP partition counted each request");
        Warnings(app).Should().BeEmpty();
    }

    [Fact]
    public async Task PathRuleCounts_PolicyThatCountedNothing_StillMeasured()
    {
        await using TestApp app = await StartAsync(
            p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/invite",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "60",
            });
        using MetricCollector<long> uncounted = Collect(app, Uncounted);

        await SendAsync(app, 3);

        uncounted.GetMeasurementSnapshot().Should().HaveCount(3).And.OnlyContain(m => (string?)m.Tags["emailguard.policy"] == "invite");
    }

    [Fact]
    public async Task Reject_AnswersProblemDetailsThatNameNoHeader_AndMeasuresAnInvalidRequest()
    {
        await using TestApp app = await StartAsync(p => p.PerTenantHeader("X-Internal-Tenant", RateLimitRule.PerHour(2)).WhenValueMissing(MissingValueBehavior.Reject));
        using MetricCollector<long> decisions = Collect(app, "emailguard.endpoint.decisions");

        using HttpResponseMessage response = await app.PostAsync("/invite", "203.0.113.1");
        string body = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        body.Should().Contain("must name its tenant").And.NotContain("X-Internal-Tenant");
        decisions.GetMeasurementSnapshot().Should().ContainSingle().Which.Tags["emailguard.outcome"].Should().Be("invalid_request");
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3119).Which.Message.Should().Contain("tenant header 'X-Internal-Tenant'");
    }

    [Fact]
    public async Task Configuration_WhenValueMissing_BindsByName()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/invite", () => Results.Ok()).RequireEmailRateLimit("invite"),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:Policies:invite:Partitions:0:PartitionBy"] = "TenantHeader",
                ["EmailGuard:Endpoints:Policies:invite:Partitions:0:Name"] = "X-Tenant",
                ["EmailGuard:Endpoints:Policies:invite:Partitions:0:Rules:0:Limit"] = "2",
                ["EmailGuard:Endpoints:Policies:invite:WhenValueMissing"] = "ShareOneBucket",
            });

        List<HttpStatusCode> without = await SendAsync(app, 4);

        without.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Code_WhenValueMissingOnAPolicyWithoutSuchPartition_FailsAtStart()
    {
        Func<Task> start = () => StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(2)).WhenValueMissing(MissingValueBehavior.Reject));

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Failures.Should()
            .Contain(f => f.Contains("'invite' sets WhenValueMissing(Reject) but has no user, tenant, route value or key partition", StringComparison.Ordinal));
    }

    [Fact]
    public void Builder_UndefinedBehavior_Throws()
    {
        Action set = () => new EmailRateLimitPolicyBuilder("invite").WhenValueMissing((MissingValueBehavior)7);

        set.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("behavior");
    }

    // Each row: a policy whose partitions a request can leave all out without WhenValueMissing being the cause, and the
    // setting the warning must point to. Advising WhenValueMissing there would stop the next start (it applies to none
    // of these partitions), or, for a shadow policy already set to Reject, change nothing.
    public static TheoryData<Action<EmailRateLimitPolicyBuilder>, string> UncountedOtherwise => new()
    {
        { p => p.PerField("email", RateLimitRule.PerHour(2)).WhenFieldMissing(MissingFieldBehavior.Skip), "WhenFieldMissing to Reject" },
        { p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)).WhenValueMissing(MissingValueBehavior.Reject).InShadowMode(), "shadow mode" },
    };

    [Theory]
    [MemberData(nameof(UncountedOtherwise))]
    public async Task Uncounted_WarningAdvisesWhatWouldCountThem(Action<EmailRateLimitPolicyBuilder> policy, string advice)
    {
        await using TestApp app = await StartAsync(policy);

        await SendAsync(app, 1);

        FakeLogRecord warning = Warnings(app).Should().ContainSingle().Which;
        warning.Message.Should().Contain(advice);
        warning.Message.Should().NotContain("WhenValueMissing to ShareOneBucket or Reject");
    }
}
