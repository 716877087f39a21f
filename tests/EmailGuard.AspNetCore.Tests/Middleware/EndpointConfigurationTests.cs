using System.Net;
using EmailGuard;
using EmailGuard.Testing.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A malformed path rule or an unknown key under <c>EmailGuard:Endpoints</c> stops the app with its path; the stock
/// binder used to drop such a rule silently, leaving the endpoint unlimited. A reload with the same mistake keeps the
/// rules the app has.
/// </summary>
public sealed class EndpointConfigurationTests
{
    private const string Endpoints = "EmailGuard:Endpoints";
    private const string Defense = "EmailGuard:Endpoints:PolicyDefenses:signup";

    public static TheoryData<string[], string> MalformedSettings => new()
    {
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Window=30 minutes"], $"{Endpoints}:PathRules:0:Window: '30 minutes' is not a time span" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Algorithm=Sliding"], $"{Endpoints}:PathRules:0:Algorithm: 'Sliding' is not one of FixedWindow, SlidingWindow, TokenBucket." },
        { [$"{Endpoints}:PathRules:0:Limit=sixty"], $"{Endpoints}:PathRules:0:Limit: 'sixty' is not a whole number" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:PartitionBy=Ip"], $"{Endpoints}:PathRules:0:PartitionBy: 'Ip' is not one of ClientIp, Global, ClientNetwork." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Endpiont=*"], $"{Endpoints}:PathRules:0:Endpiont: unknown setting; did you mean Endpoint?" },
        { [$"{Endpoints}:PathRule:0:Limit=60"], $"{Endpoints}:PathRule: unknown setting; did you mean PathRules?" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:SafelistedNetworks:0=10.0.0.0/8"], $"{Endpoints}:SafelistedNetworks: this setting was renamed to AllowlistedNetworks; write {Endpoints}:AllowlistedNetworks instead." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:SafelistedUsers:0=monitor"], $"{Endpoints}:SafelistedUsers: this setting was renamed to AllowlistedUsers; write {Endpoints}:AllowlistedUsers instead." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetwork:0=10.0.0.0/8"], $"{Endpoints}:AllowlistedNetwork: unknown setting; did you mean AllowlistedNetworks?" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:office=10.0.0.0/8"], $"{Endpoints}:AllowlistedNetworks:office: 'office' is not a list index" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks=10.0.0.0/8"], $"{Endpoints}:AllowlistedNetworks: '10.0.0.0/8' is a single value, but this setting is a list." },
        // A network of every address turned every endpoint limit off.
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0=0.0.0.0/0"], $"{Endpoints}:AllowlistedNetworks:0: '0.0.0.0/0' is every address and would exempt every client from every endpoint limit; name the networks to trust, each /8 (IPv4) or /32 (IPv6) or narrower." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0=10.0.0.0/8", $"{Endpoints}:AllowlistedNetworks:1=::/0"], $"{Endpoints}:AllowlistedNetworks:1: '::/0' is every address and would exempt every client from every endpoint limit; name the networks to trust, each /8 (IPv4) or /32 (IPv6) or narrower." },
        // Two halves of every address were every address too: no network wider than a /8 (IPv4) or /32 (IPv6).
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0=0.0.0.0/1", $"{Endpoints}:AllowlistedNetworks:1=128.0.0.0/1"], $"{Endpoints}:AllowlistedNetworks:0: '0.0.0.0/1' is wider than a /8, and a few such networks together are every address and would exempt every client from every endpoint limit" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0=10.0.0.0/8", $"{Endpoints}:AllowlistedNetworks:1=2000::/3"], $"{Endpoints}:AllowlistedNetworks:1: '2000::/3' is wider than a /32" },
        // The IPv4-mapped form of a network is the IPv4 network it carries, judged by the IPv4 bound.
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0=::ffff:0.0.0.0/97"], $"{Endpoints}:AllowlistedNetworks:0: '::ffff:0.0.0.0/97' is wider than a /8" },
        // An empty or blank entry in an allow or block list names nothing; it stops the app by its index.
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedUsers:0="], $"{Endpoints}:AllowlistedUsers:0 is empty; name a user id as PerUser reads it (the NameIdentifier or sub claim, else the user name)." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedUsers:0=monitor", $"{Endpoints}:AllowlistedUsers:1=  "], $"{Endpoints}:AllowlistedUsers:1 is empty; name a user id" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0="], $"{Endpoints}:AllowlistedNetworks:0: '' is not an IP address" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0= "], $"{Endpoints}:AllowlistedNetworks:0: ' ' is not an IP address" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRuleAllowlist:0="], $"{Endpoints}:PathRuleAllowlist:0: " },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRuleAllowlist:0= "], $"{Endpoints}:PathRuleAllowlist:0: " },
        // An item is named by the key it was written with, not by its place in the list the binder compacted.
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:3:Endpoint=POST:/x", $"{Endpoints}:PathRules:3:Limit=0"], $"{Endpoints}:PathRules:3:Limit must be between 1 and 1099511627776; it is 0." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedUsers:0=ops", $"{Endpoints}:AllowlistedUsers:2= "], $"{Endpoints}:AllowlistedUsers:2 is empty; name a user id" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:AllowlistedNetworks:0=10.0.0.0/8", $"{Endpoints}:AllowlistedNetworks:5=0.0.0.0/0"], $"{Endpoints}:AllowlistedNetworks:5: '0.0.0.0/0' is every address" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRuleAllowlist:0=GET:/health", $"{Endpoints}:PathRuleAllowlist:7=PSOT:/x"], $"{Endpoints}:PathRuleAllowlist:7: " },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRuleFailureMode=Closed"], $"{Endpoints}:PathRuleFailureMode: 'Closed' is not one of " },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:MaxBodyBytes=64KB"], $"{Endpoints}:MaxBodyBytes: '64KB' is not a whole number" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:MaxBodyBytes=0"], $"{Endpoints}:MaxBodyBytes must be between 1 and 16777216; it is 0." },
        // A misspelt method matched no request, so the path was left unlimited without a word.
        { [$"{Endpoints}:PathRules:0:Endpoint=PSOT:/api/signup", $"{Endpoints}:PathRules:0:Limit=5"], $"{Endpoints}:PathRules:0:Endpoint: 'PSOT:/api/signup' names the HTTP method 'PSOT', which is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, QUERY; use * for any method." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRuleAllowlist:0=GTE:/health"], $"{Endpoints}:PathRuleAllowlist:0: 'GTE:/health' names the HTTP method 'GTE', which is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, QUERY; use * for any method." },
        // A query in a rule matched nothing (a rule matches the path); the one it may hold names a Razor page handler.
        { [$"{Endpoints}:PathRules:0:Endpoint=POST:/share?id=1", $"{Endpoints}:PathRules:0:Limit=5"], $"{Endpoints}:PathRules:0:Endpoint: 'POST:/share?id=1' has the query '?id=1'; a rule matches the path, and its query may only name a Razor page handler, as in POST:/share?handler=Confirm." },
        { [$"{Endpoints}:PathRules:0:Endpoint=POST:/share?handler=", $"{Endpoints}:PathRules:0:Limit=5"], $"{Endpoints}:PathRules:0:Endpoint: 'POST:/share?handler=' has the query '?handler='" },
        { [$"{Endpoints}:PathRules:0:Endpoint=POST:/share?handler=confirm&x=1", $"{Endpoints}:PathRules:0:Limit=5"], $"{Endpoints}:PathRules:0:Endpoint: 'POST:/share?handler=confirm&x=1' has the query" },
        { [$"{Endpoints}:PathRules:0:Endpoint=POST:/share/*?handler=confirm", $"{Endpoints}:PathRules:0:Limit=5"], $"{Endpoints}:PathRules:0:Endpoint: 'POST:/share/*?handler=confirm' names a page handler on a path with a wildcard; name it on the page's path, as in POST:/share?handler=Confirm." },
        { [$"{Endpoints}:PathRules:0:Endpoint=*?handler=confirm", $"{Endpoints}:PathRules:0:Limit=5"], $"{Endpoints}:PathRules:0:Endpoint: '*?handler=confirm' names a page handler on a path with a wildcard" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRuleAllowlist:0=POST:/share?handler=preview"], $"{Endpoints}:PathRuleAllowlist:0: 'POST:/share?handler=preview' names a page handler, but an allowlist entry matches the path alone, every handler of the page; write the path, or put [DisableEmailRateLimit] on the handler." },
        // A path rule's values out of range name the setting, as a send-guard rule's do, not .NET's argument exception text.
        { [$"{Endpoints}:PathRules:0:Window=1m"], $"{Endpoints}:PathRules:0:Limit must be between 1 and 1099511627776; it is 0." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Segments=6"], $"{Endpoints}:PathRules:0:Segments applies to a SlidingWindow only; it is 6 on a FixedWindow." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Window=00:00:00.0005"], $"{Endpoints}:PathRules:0:Window must be a whole number of milliseconds" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Algorithm=SlidingWindow", $"{Endpoints}:PathRules:0:Segments=7", $"{Endpoints}:PathRules:0:Window=00:00:01"], $"{Endpoints}:PathRules:0:Segments must divide the window of 1000 ms into whole milliseconds; it is 7." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:Algorithm=SlidingWindow", $"{Endpoints}:PathRules:0:Segments=-3"], $"{Endpoints}:PathRules:0:Segments must be 0 (a default that divides the window) or between 1 and 1000; it is -3." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:PartitionBy=ClientNetwork", $"{Endpoints}:PathRules:0:IPv6PrefixLength=0"], $"{Endpoints}:PathRules:0:IPv6PrefixLength must be between 1 and 128; it is 0." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:PartitionBy=ClientNetwork", $"{Endpoints}:PathRules:0:IPv4PrefixLength=33"], $"{Endpoints}:PathRules:0:IPv4PrefixLength must be between 1 and 32; it is 33." },
        // A prefix length on a rule counted per IP or globally would be ignored: the author meant a network limit.
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:PathRules:0:IPv6PrefixLength=48"], $"{Endpoints}:PathRules:0:IPv6PrefixLength applies only to PartitionBy ClientNetwork; this rule is counted by ClientIp." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:RejectionStatusCode=200"], $"{Endpoints}:RejectionStatusCode must be between 400 and 599; it is 200." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:ClientNetworkListRefreshInterval=2h"], $"{Endpoints}:ClientNetworkListRefreshInterval must be from 100 ms to 1 hour; it is 02:00:00." },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:OnRejected=MyHandler"], $"{Endpoints}:OnRejected: this setting holds code" },
        { [$"{Endpoints}:PathRules:0:Limit=60", $"{Endpoints}:Policies:signup:Limit=1"], $"{Endpoints}:Policies:signup:Limit: unknown setting" },
        { [$"{Endpoints}:PathRules:0:Limit=60", "EmailGuard:Endpionts:PathRules:0:Limit=1"], "EmailGuard:Endpionts: unknown section; did you mean Endpoints?" },
    };

    // Each row: a policy defense set in configuration for the code's "signup" policy, and the failure naming the setting and its value.
    public static TheoryData<string[], string> MalformedDefenses => new()
    {
        { [$"{Defense}:EscalatingBan:MaxDenials=0"], $"{Defense}:EscalatingBan:MaxDenials must be at least 1; it is 0." },
        { [$"{Defense}:EscalatingBan:EscalationFactor=0.5"], $"{Defense}:EscalatingBan:EscalationFactor must be from 1 to 100; it is 0.5." },
        { [$"{Defense}:EscalatingBan:BanFor=400d"], $"{Defense}:EscalatingBan:BanFor must be from 1 second to 366 days, in whole milliseconds; it is 400.00:00:00." },
        { [$"{Defense}:EscalatingBan:BanFor=2d"], $"{Defense}:EscalatingBan:MaxBanFor must not be shorter than {Defense}:EscalatingBan:BanFor (2.00:00:00); it is 1.00:00:00." },
        { [$"{Defense}:Allow2Ban:MaxRequests=0"], $"{Defense}:Allow2Ban:MaxRequests must be at least 1; it is 0." },
        { [$"{Defense}:BounceBan:Bounces=-1"], $"{Defense}:BounceBan:Bounces must be at least 1; it is -1." },
        { [$"{Defense}:SurgeBreaker:ThresholdPerMinute=-5", $"{Defense}:SurgeBreaker:BaselineMultiple=3"], $"{Defense}:SurgeBreaker:ThresholdPerMinute must be from 0 to 1099511627776; it is -5." },
        { [$"{Defense}:SurgeBreaker:ThresholdPerMinute=10", $"{Defense}:SurgeBreaker:BaselineSmoothing=0"], $"{Defense}:SurgeBreaker:BaselineSmoothing must be above 0 and at most 1; it is 0." },
        { [$"{Defense}:SurgeBreaker:ThresholdPerMinute=10", $"{Defense}:SurgeBreaker:BaselineFloorPerMinute=0"], $"{Defense}:SurgeBreaker:BaselineFloorPerMinute must be at least 1; it is 0." },
        { [$"{Defense}:SurgeBreaker:BaselineMultiple=0.5"], $"{Defense}:SurgeBreaker:BaselineMultiple must be 0 (none) or from 1 to 1000000; it is 0.5." },
        // An infinite multiple raised the threshold to the store's ceiling: the breaker started, and never tripped.
        { [$"{Defense}:SurgeBreaker:BaselineMultiple=Infinity"], $"{Defense}:SurgeBreaker:BaselineMultiple must be 0 (none) or from 1 to 1000000; it is Infinity." },
        { [$"{Defense}:SurgeBreaker:BaselineMultiple=1e300"], $"{Defense}:SurgeBreaker:BaselineMultiple must be 0 (none) or from 1 to 1000000; it is 1E+300." },
    };

    [Theory]
    [MemberData(nameof(MalformedSettings))]
    public async Task Startup_MalformedOrUnknownSetting_FailsWithItsPath(string[] settings, string expected)
    {
        Dictionary<string, string?> configuration = TestSettings.Parse(settings);
        configuration.TryAdd($"{Endpoints}:PathRules:0:Endpoint", "*");

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Message.Should().Contain(expected);
        failure.Failures.Should().AllSatisfy(f => StartupFailure.ShouldNameOneOf(f, configuration.Select(c => c.Key)));
    }

    [Theory]
    [MemberData(nameof(MalformedDefenses))]
    public async Task Startup_MalformedPolicyDefense_FailsWithItsPathAndValue(string[] settings, string expected)
    {
        Dictionary<string, string?> configuration = TestSettings.Parse(settings);

        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(4)))), _ => { }, configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Message.Should().Contain(expected);
        failure.Failures.Should().AllSatisfy(f => StartupFailure.ShouldNameOneOf(f, settings));
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("1m", 60)]
    [InlineData("1h", 3_600)]
    [InlineData("1d", 86_400)]
    [InlineData("1m30s", 90)]
    [InlineData("00:02:00", 120)]
    public async Task Startup_ShorthandPeriodInAPathRule_BindsTheWindow(string period, int seconds)
    {
        Dictionary<string, string?> configuration = TestSettings.Parse([$"{Endpoints}:PathRules:0:Endpoint=POST:/x", $"{Endpoints}:PathRules:0:Limit=1", $"{Endpoints}:PathRules:0:Window={period}"]);
        await using TestApp app = await TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), a => a.MapPost("/x", () => Results.Ok()), configuration);

        app.App.Services.GetRequiredService<IOptions<EmailGuardEndpointOptions>>().Value.PathRules
            .Should().ContainSingle().Which.Window.Should().Be(TimeSpan.FromSeconds(seconds));
        (await PostAsync(app)).Should().Be(HttpStatusCode.OK);
        (await PostAsync(app)).Should().Be(HttpStatusCode.TooManyRequests);
        app.Time.Advance(TimeSpan.FromSeconds(seconds));
        (await PostAsync(app)).Should().Be(HttpStatusCode.OK, "the window is exactly the period given");
    }

    [Theory]
    [InlineData("PathRules:0:Window", "thirty minutes")]
    [InlineData("PathRules:0:Limt", "6")]
    [InlineData("PathRules:1:Limit", "ten")]
    [InlineData("PathRulez:0:Limit", "6")]
    public async Task Reload_MalformedChange_KeepsThePreviousRulesAndLogs(string key, string value)
    {
        Dictionary<string, string?> configuration = TestSettings.Parse([$"{Endpoints}:PathRules:0:Endpoint=POST:/x", $"{Endpoints}:PathRules:0:Limit=1"]);
        await using TestApp app = await TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), a => a.MapPost("/x", () => Results.Ok()), configuration);
        (await PostAsync(app)).Should().Be(HttpStatusCode.OK);

        app.App.Configuration[$"{Endpoints}:PathRules:0:Limit"] = "100";
        app.App.Configuration[$"{Endpoints}:{key}"] = value;
        Action reload = () => ((IConfigurationRoot)app.App.Configuration).Reload();

        reload.Should().NotThrow("a bad change must never escape into the configuration provider's change callback");
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 207 && r.Exception!.Message.Contains(key.Split(':')[0], StringComparison.Ordinal));
        (await PostAsync(app)).Should().Be(HttpStatusCode.TooManyRequests, "the previous limit of 1 still applies");
    }

    private static async Task<HttpStatusCode> PostAsync(TestApp app)
    {
        using HttpResponseMessage response = await app.SendAsync(HttpMethod.Post, "/x", "203.0.113.1");
        return response.StatusCode;
    }
}
