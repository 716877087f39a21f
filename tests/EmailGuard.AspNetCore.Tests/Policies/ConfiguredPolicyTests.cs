using System.Net;
using System.Net.Http.Json;
using EmailGuard;
using EmailGuard.Testing.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A named policy from <c>EmailGuard:Endpoints:Policies</c>: endpoints name it as they name a code policy, it decides
/// as the same policy written in code, and it follows configuration reloads, keeping what it has when a change is bad.
/// </summary>
public sealed class ConfiguredPolicyTests
{
    private const string Signup = "EmailGuard:Endpoints:Policies:signup";

    [Fact]
    public async Task Policy_FromConfiguration_AdmitsItsLimitThenRejects()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse($"{Signup}:Partitions:0:PartitionBy=ClientIp", $"{Signup}:Partitions:0:Rules:0:Limit=3", $"{Signup}:Partitions:0:Rules:0:Window=15m"));

        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.7", [.. Enumerable.Repeat("/signup", 5)]);
        using HttpResponseMessage otherClient = await app.PostAsync("/signup", "198.51.100.20");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        otherClient.StatusCode.Should().Be(HttpStatusCode.OK, "the policy counts per client IP");
    }

    [Fact]
    public async Task Policy_FromConfiguration_IsNamedByTheAttributeToo()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", [EmailRateLimit("signup")] () => Results.Ok()),
            TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=1"));

        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.7", "/signup", "/signup");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task Endpoint_NamingAPolicyNeitherInCodeNorInConfiguration_StillFailsAtStartup()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("sign-up"),
            TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=1"));

        (await start.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*'sign-up', which was not added*EmailGuard:Endpoints:Policies:sign-up*");
    }

    [Fact]
    public async Task Policy_NamedInCodeAndInConfiguration_FailsAtStartupNamingTheSection()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(10)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=1"));

        (await start.Should().ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>())
            .Which.Failures.Should().ContainSingle().Which.Should().StartWith($"{Signup}: a policy named 'signup' is also added in code (AddPolicy)");
    }

    [Fact]
    public async Task Policy_NamedInConfigurationAsACodePolicyButForCase_FailsAtStartup()
    {
        // Configuration keys ignore case and policy names do not: "Signup" from configuration would start beside the
        // code's "signup", count nothing, and leave the endpoint at the code's limits the operator meant to tighten.
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(10)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse("EmailGuard:Endpoints:Policies:Signup:Partitions:0:Rules:0:Limit=1"));

        (await start.Should().ThrowAsync<Microsoft.Extensions.Options.OptionsValidationException>())
            .Which.Failures.Should().ContainSingle().Which.Should().StartWith("EmailGuard:Endpoints:Policies:Signup: a policy named 'signup' is also added in code (AddPolicy)");
    }

    [Fact]
    public async Task PolicyDefenses_OfAPolicyFromConfiguration_Apply()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=100", "EmailGuard:Endpoints:PolicyDefenses:signup:RequireChallenge=true"));

        using HttpResponseMessage response = await app.PostAsync("/signup", "203.0.113.7");

        response.StatusCode.Should().NotBe(HttpStatusCode.OK, "the configured defense asks for a challenge the request did not pass");
    }

    [Fact]
    public async Task Reload_TightenedLimit_AppliesToTheNextRequest()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=5", $"{Signup}:Partitions:0:Rules:0:Window=1h"));
        (await app.PostAllAsync("203.0.113.7", "/signup", "/signup")).Should().AllBeEquivalentTo(HttpStatusCode.OK);

        app.App.Configuration[$"{Signup}:Partitions:0:Rules:0:Limit"] = "2";
        ((IConfigurationRoot)app.App.Configuration).Reload();

        using HttpResponseMessage third = await app.PostAsync("/signup", "203.0.113.7");
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the two requests already counted use up the tightened limit of 2");
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 206);
    }

    [Fact]
    public async Task Reload_LooseningAPolicyAndAPathRule_LogsEachWithItsSettingsBeforeAndAfter()
    {
        // A reload that raises a limit and puts the policy in shadow mode loosens a security control: the log says what.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse(
                $"{Signup}:Partitions:0:Rules:0:Limit=5", $"{Signup}:Partitions:0:Rules:0:Window=1h",
                "EmailGuard:Endpoints:PathRules:0:Endpoint=POST:/signup", "EmailGuard:Endpoints:PathRules:0:Limit=20"));

        app.App.Configuration[$"{Signup}:Partitions:0:Rules:0:Limit"] = "500";
        app.App.Configuration[$"{Signup}:ShadowMode"] = "true";
        app.App.Configuration["EmailGuard:Endpoints:PathRules:0:Limit"] = "2000";
        ((IConfigurationRoot)app.App.Configuration).Reload();

        string[] changes = [.. app.Logs.GetSnapshot().Where(r => r.Id.Id == 3106).Select(r => r.Message)];
        changes.Should().Equal(
            "A reload changed EmailGuard:Endpoints:Policies:signup: was ClientIp: 5 per 01:00:00 FixedWindow; FailOpen, field missing Reject, repeated Reject, value missing Skip, now ClientIp: 500 per 01:00:00 FixedWindow; FailOpen, shadow mode, field missing Reject, repeated Reject, value missing Skip.",
            "A reload changed EmailGuard:Endpoints:PathRules:0: was POST:/signup 20 per 00:01:00 FixedWindow by ClientIp, now POST:/signup 2000 per 00:01:00 FixedWindow by ClientIp.");

        // A reload that changes nothing says nothing.
        ((IConfigurationRoot)app.App.Configuration).Reload();
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 3106).Should().Be(2);
    }

    [Theory]
    [InlineData("Partitions:0:Rules:0:Limit", "0", "EmailGuard:Endpoints:Policies:signup:Partitions:0:Rules:0:Limit must be between 1")]
    [InlineData("Partitions:0:Rules:0:Limt", "1", "EmailGuard:Endpoints:Policies:signup:Partitions:0:Rules:0:Limt: unknown setting")]
    [InlineData("Partitions:0:IPv4PrefixLength", "24", "EmailGuard:Endpoints:Policies:signup:Partitions:0:IPv4PrefixLength applies only to PartitionBy ClientNetwork")]
    public async Task Reload_BadChange_KeepsThePolicyAndLogs(string key, string value, string expected)
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=1"));
        (await app.PostAsync("/signup", "203.0.113.7")).Dispose();

        app.App.Configuration[$"{Signup}:{key}"] = value;
        Action reload = () => ((IConfigurationRoot)app.App.Configuration).Reload();

        reload.Should().NotThrow();
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 207 && r.Exception!.Message.Contains(expected, StringComparison.Ordinal));
        using HttpResponseMessage next = await app.PostAsync("/signup", "203.0.113.7");
        next.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the policy in force before the change still applies");
    }

    [Fact]
    public async Task Reload_RemovingAPolicyAnEndpointNames_IsRefusedAndTheEndpointKeepsIt()
    {
        var source = new RenamingSource(TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=1"));
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            beforeRouting: a => ((IConfigurationBuilder)a.Configuration).Add(source));
        (await app.PostAsync("/signup", "203.0.113.7")).Dispose();

        source.Provider.RenamePolicy("signup", "sign-up");

        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 207 && r.Exception!.Message.Contains("'signup', which was not added", StringComparison.Ordinal));
        using HttpResponseMessage next = await app.PostAsync("/signup", "203.0.113.7");
        next.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the endpoint's policy is still in force, instead of every request failing");
    }

    [Fact]
    public async Task Reload_RemovingAPolicyWhileTheEndpointsCannotBeRead_IsRefused()
    {
        var source = new RenamingSource(TestSettings.Parse($"{Signup}:Partitions:0:Rules:0:Limit=1"));
        var endpoints = new FailingEndpointDataSource();
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddSingleton<EndpointDataSource>(endpoints).AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
                endpoints.Inner = new CompositeEndpointDataSource(((IEndpointRouteBuilder)a).DataSources);
            },
            beforeRouting: a => ((IConfigurationBuilder)a.Configuration).Add(source));
        (await app.PostAsync("/signup", "203.0.113.7")).Dispose();
        endpoints.Fail = true;

        source.Provider.RenamePolicy("signup", "sign-up");

        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 207 && r.Exception!.Message.Contains("'signup' is gone from the changed options", StringComparison.Ordinal));
        endpoints.Fail = false;
        using HttpResponseMessage next = await app.PostAsync("/signup", "203.0.113.7");
        next.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "without the endpoints to check, a reload keeps every policy in force");
    }

    [Fact]
    public async Task Policy_FromConfiguration_DecidesAsTheSamePolicyInCode()
    {
        Action<EmailRateLimitPolicyBuilder> code = p => p
            .PerClientIp(RateLimitRule.FixedWindow(6, TimeSpan.FromMinutes(10)), RateLimitRule.FixedWindow(9, TimeSpan.FromHours(1)))
            .PerClientNetwork(24, 48, RateLimitRule.SlidingWindow(8, TimeSpan.FromMinutes(10), 5))
            .PerUser(PartitionValueComparison.CaseSensitive, RateLimitRule.FixedWindow(3, TimeSpan.FromMinutes(10)))
            .PerTenantHeader("X-Tenant", RateLimitRule.FixedWindow(4, TimeSpan.FromMinutes(10)))
            .PerField("email", RateLimitRule.TokenBucket(1, TimeSpan.FromMinutes(5), 2))
            .PerRouteValue("list", RateLimitRule.FixedWindow(5, TimeSpan.FromMinutes(10)))
            .WhenFieldMissing(MissingFieldBehavior.Skip)
            .WhenValueMissing(MissingValueBehavior.ShareOneBucket)
            .WithQuotaHeaders();
        const string P = "EmailGuard:Endpoints:Policies:share:Partitions";
        Dictionary<string, string?> configuration = TestSettings.Parse(
            $"{P}:0:PartitionBy=ClientIp", $"{P}:0:Rules:0:Limit=6", $"{P}:0:Rules:0:Window=10m", $"{P}:0:Rules:1:Limit=9", $"{P}:0:Rules:1:Window=1h",
            $"{P}:1:PartitionBy=ClientNetwork", $"{P}:1:IPv4PrefixLength=24", $"{P}:1:IPv6PrefixLength=48",
            $"{P}:1:Rules:0:Limit=8", $"{P}:1:Rules:0:Window=10m", $"{P}:1:Rules:0:Algorithm=SlidingWindow", $"{P}:1:Rules:0:Segments=5",
            $"{P}:2:PartitionBy=User", $"{P}:2:Comparison=CaseSensitive", $"{P}:2:Rules:0:Limit=3", $"{P}:2:Rules:0:Window=10m",
            $"{P}:3:PartitionBy=TenantHeader", $"{P}:3:Name=X-Tenant", $"{P}:3:Rules:0:Limit=4", $"{P}:3:Rules:0:Window=10m",
            $"{P}:4:PartitionBy=Field", $"{P}:4:Name=email", $"{P}:4:Rules:0:Limit=1", $"{P}:4:Rules:0:Window=5m", $"{P}:4:Rules:0:Algorithm=TokenBucket", $"{P}:4:Rules:0:Burst=2",
            $"{P}:5:PartitionBy=RouteValue", $"{P}:5:Name=list", $"{P}:5:Rules:0:Limit=5", $"{P}:5:Rules:0:Window=10m",
            "EmailGuard:Endpoints:Policies:share:WhenFieldMissing=Skip", "EmailGuard:Endpoints:Policies:share:WhenValueMissing=ShareOneBucket",
            "EmailGuard:Endpoints:Policies:share:QuotaHeaders=true");

        List<string> fromCode = await DecideAsync(o => o.AddPolicy("share", code), null);
        List<string> fromConfiguration = await DecideAsync(_ => { }, configuration);

        fromConfiguration.Should().Equal(fromCode);
        fromCode.Should().Contain(d => d.StartsWith("429", StringComparison.Ordinal)).And.Contain(d => d.StartsWith("200", StringComparison.Ordinal));
    }

    private sealed class FailingEndpointDataSource : EndpointDataSource
    {
        public bool Fail { get; set; }

        public EndpointDataSource? Inner { get; set; }

        public override IReadOnlyList<Endpoint> Endpoints => Fail ? throw new InvalidOperationException("The app's endpoints cannot be read.") : Inner?.Endpoints ?? [];

        public override IChangeToken GetChangeToken() => NullChangeToken.Singleton;
    }

    /// <summary>A configuration source whose keys a test can rename, as an edited file would be reloaded.</summary>
    private sealed class RenamingSource(Dictionary<string, string?> initial) : IConfigurationSource
    {
        public RenamingProvider Provider { get; } = new(initial);

        public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;
    }

    private sealed class RenamingProvider(Dictionary<string, string?> initial) : ConfigurationProvider
    {
        public override void Load() => Data = new Dictionary<string, string?>(initial, StringComparer.OrdinalIgnoreCase);

        public void RenamePolicy(string from, string to)
        {
            string prefix = $"EmailGuard:Endpoints:Policies:{from}:";
            Data = Data.ToDictionary(
                d => d.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? $"EmailGuard:Endpoints:Policies:{to}:{d.Key[prefix.Length..]}" : d.Key,
                d => d.Value,
                StringComparer.OrdinalIgnoreCase);
            OnReload();
        }
    }

    /// <summary>The same requests to a fresh app; each answer's status and quota headers.</summary>
    private static async Task<List<string>> DecideAsync(Action<EmailGuardEndpointOptions> configure, Dictionary<string, string?>? configuration)
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(configure),
            a => a.MapPost("/lists/{list}/share", () => Results.Ok()).RequireEmailRateLimit("share"),
            configuration,
            beforeRouting: TestApp.UseUserHeader);
        string[] ips = ["203.0.113.7", "203.0.113.8", "198.51.100.9", "2001:db8::1", "2001:db8:0:1::2"];
        string?[] users = [null, "ann", "Ann", "bob"];
        string?[] tenants = [null, "acme", "ACME", "globex"];
        string?[] emails = [null, "a@example.com", "A@Example.com", "b@example.com"];
        var decisions = new List<string>();
        for (int i = 0; i < 60; i++)
        {
            using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, $"/lists/{i % 3}/share", ips[i % ips.Length],
                emails[i % emails.Length] is { } email ? JsonContent.Create(new { email }) : null);
            if (users[(i / 2) % users.Length] is { } user)
            {
                request.Headers.Add(TestApp.UserHeader, user);
            }

            if (tenants[(i / 3) % tenants.Length] is { } tenant)
            {
                request.Headers.Add("X-Tenant", tenant);
            }

            using HttpResponseMessage response = await app.Client.SendAsync(request);
            decisions.Add($"{(int)response.StatusCode} {response.Header("RateLimit-Policy")} {response.Header("RateLimit")} {response.Header("Retry-After")}");
            app.Time.Advance(TimeSpan.FromSeconds(20));
        }

        return decisions;
    }
}
