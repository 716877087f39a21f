using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// The middleware's activities, seen as an OpenTelemetry exporter would see them. The test's own activity flows into
/// the TestServer, so each test reads only the activities of its own trace while other test classes run in parallel.
/// </summary>
public sealed class EndpointActivityTests : IDisposable
{
    private const string Ip = "203.0.113.77";

    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivitySource _testSource = new("EmailGuard.AspNetCore.Tests." + Guid.NewGuid().ToString("N"));
    private readonly ActivityListener _listener;
    private ActivitySamplingResult _emailGuardSampling = ActivitySamplingResult.AllDataAndRecorded;

    public EndpointActivityTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == EmailGuardDiagnostics.ActivitySourceName || s == _testSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> options)
                => options.Source == _testSource ? ActivitySamplingResult.AllDataAndRecorded : _emailGuardSampling,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    private static Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy, IRateLimitStore? store = null) => TestApp.StartAsync(
        s =>
        {
            s.Configure<TestServerOptions>(o => o.PreserveExecutionContext = true);
            if (store is not null)
            {
                s.AddSingleton(store);
            }

            s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("trace", policy));
        },
        a =>
        {
            TestApp.UseUserHeader(a);
            a.UseEmailGuard();
            a.MapPost("/guarded", () => Results.Ok()).RequireEmailRateLimit("trace");
            a.MapPost("/plain", () => Results.Ok());
            a.MapPost("/disabled", () => Results.Ok()).RequireEmailRateLimit("trace").DisableEmailRateLimit();
        },
        useEmailGuard: false);

    [Fact]
    public async Task Decision_AllowedThenRejected_OneActivityEachWithPolicyOutcomeAndPartitionKind()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));

        List<Activity> decisions = await TraceAsync(async () =>
        {
            await PostAsync(app, "/guarded", HttpStatusCode.OK);
            await PostAsync(app, "/guarded", HttpStatusCode.TooManyRequests);
        });

        decisions.Should().HaveCount(2);
        decisions.Should().OnlyContain(a => a.Kind == ActivityKind.Internal && a.Status == ActivityStatusCode.Unset);
        Tags(decisions[0]).Should().Equal(new Dictionary<string, string?>
        {
            ["emailguard.policy"] = "trace",
            ["emailguard.outcome"] = "allowed",
        });
        Tags(decisions[1]).Should().Equal(new Dictionary<string, string?>
        {
            ["emailguard.policy"] = "trace",
            ["emailguard.outcome"] = "rejected",
            ["emailguard.partition.kind"] = "ip",
        });
    }

    [Fact]
    public async Task Decision_RejectedByUserPartition_TagsTheKindNeverTheIpAddressOrUser()
    {
        await using TestApp app = await StartAsync(p => p
            .PerClientIp(RateLimitRule.PerHour(10))
            .PerField("email", RateLimitRule.PerHour(10))
            .PerUser(RateLimitRule.PerHour(1)));

        List<Activity> all = await TraceAsync(
            async () =>
            {
                await PostAsync(app, "/guarded", HttpStatusCode.OK, "Victim+tag@Example.com", "user-4242");
                await PostAsync(app, "/guarded", HttpStatusCode.TooManyRequests, "Victim+tag@Example.com", "user-4242");
            },
            decisionsOnly: false);

        Tags(all.Last()).Should().Contain("emailguard.partition.kind", "user");
        string[] values = [.. all.SelectMany(a => a.TagObjects).Select(t => Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty)];
        values.Should().NotBeEmpty();
        values.Should().NotContain(v => v.Contains("203.0.113", StringComparison.Ordinal)
            || v.Contains("victim", StringComparison.OrdinalIgnoreCase)
            || v.Contains("example.com", StringComparison.OrdinalIgnoreCase)
            || v.Contains("4242", StringComparison.Ordinal));
        all.Select(a => a.DisplayName).Should().NotContain(n => n.Contains("4242", StringComparison.Ordinal) || n.Contains("203.0.113", StringComparison.Ordinal));
        all.SelectMany(a => a.Baggage).Should().BeEmpty();
    }

    [Fact]
    public async Task Decision_ShadowModeOverLimit_TagsShadowRejected()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)).InShadowMode());

        List<Activity> decisions = await TraceAsync(async () =>
        {
            await PostAsync(app, "/guarded", HttpStatusCode.OK);
            await PostAsync(app, "/guarded", HttpStatusCode.OK);
        });

        Tags(decisions.Last()).Should().Contain("emailguard.outcome", "shadow_rejected").And.Contain("emailguard.partition.kind", "ip");
    }

    [Fact]
    public async Task Decision_NetworkStore_StoreActivityNestsUnderTheDecision()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)), new FaultingRateLimitStore(TimeProvider.System));

        List<Activity> all = await TraceAsync(() => PostAsync(app, "/guarded", HttpStatusCode.OK), decisionsOnly: false);

        Activity decision = all.Should().ContainSingle(a => a.OperationName == "emailguard.endpoint.decide").Subject;
        Activity store = all.Should().ContainSingle(a => a.OperationName == "emailguard.store.acquire").Subject;
        store.ParentSpanId.Should().Be(decision.SpanId);
    }

    [Fact]
    public async Task Decision_StoreDownFailOpen_TagsUnguardedAndTheStoreActivityHasTheError()
    {
        var store = new FaultingRateLimitStore(TimeProvider.System) { Behavior = FaultingRateLimitStore.Mode.Throw };
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)), store);

        List<Activity> all = await TraceAsync(() => PostAsync(app, "/guarded", HttpStatusCode.OK), decisionsOnly: false);

        Activity decision = all.Should().ContainSingle(a => a.OperationName == "emailguard.endpoint.decide").Subject;
        Tags(decision).Should().Contain("emailguard.outcome", "unguarded");
        all.Should().ContainSingle(a => a.OperationName == "emailguard.store.acquire" && a.ParentSpanId == decision.SpanId)
            .Which.Status.Should().Be(ActivityStatusCode.Error);
    }

    [Fact]
    public async Task Request_EndpointWithoutPolicyOrDisabled_NoActivity()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(5)));

        List<Activity> unguarded = await TraceAsync(async () =>
        {
            await PostAsync(app, "/plain", HttpStatusCode.OK);
            await PostAsync(app, "/disabled", HttpStatusCode.OK);
        }, decisionsOnly: false);
        List<Activity> guarded = await TraceAsync(() => PostAsync(app, "/guarded", HttpStatusCode.OK));

        unguarded.Should().BeEmpty();
        guarded.Should().ContainSingle("the same app and listener do record a guarded endpoint");
    }

    [Fact]
    public async Task Decision_ListenerDoesNotSample_NoActivity()
    {
        _emailGuardSampling = ActivitySamplingResult.None;
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)), new FaultingRateLimitStore(TimeProvider.System));

        List<Activity> all = await TraceAsync(() => PostAsync(app, "/guarded", HttpStatusCode.OK), decisionsOnly: false);

        all.Should().BeEmpty();
    }

    [Fact]
    public async Task Decision_ListenerOnlyPropagates_ActivityWithoutTags()
    {
        _emailGuardSampling = ActivitySamplingResult.PropagationData;
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));

        List<Activity> decisions = await TraceAsync(() => PostAsync(app, "/guarded", HttpStatusCode.OK));

        decisions.Should().ContainSingle().Which.TagObjects.Should().BeEmpty("tags are only worth computing for a recorded activity");
    }

    public void Dispose()
    {
        _listener.Dispose();
        _testSource.Dispose();
    }

    private static async Task PostAsync(TestApp app, string path, HttpStatusCode expected, string? email = null, string? user = null)
    {
        HttpRequestMessage request = TestApp.Request(HttpMethod.Post, path, Ip, email is null ? null : JsonContent.Create(new { email }));
        if (user is not null)
        {
            request.Headers.Add("X-Test-User", user);
        }

        using HttpResponseMessage response = await app.Client.SendAsync(request);
        response.StatusCode.Should().Be(expected);
    }

    private static Dictionary<string, string?> Tags(Activity activity) => activity.Tags.ToDictionary(t => t.Key, t => t.Value);

    /// <summary>Runs <paramref name="requests"/> under a fresh trace and returns the EmailGuard activities of that trace, in stop order.</summary>
    private async Task<List<Activity>> TraceAsync(Func<Task> requests, bool decisionsOnly = true)
    {
        ActivityTraceId trace;
        using (Activity test = _testSource.StartActivity("test")!)
        {
            trace = test.TraceId;
            await requests();
        }

        return [.. _stopped.Where(a => a.TraceId == trace
            && a.Source.Name == EmailGuardDiagnostics.ActivitySourceName
            && (!decisionsOnly || a.OperationName == "emailguard.endpoint.decide"))];
    }
}
