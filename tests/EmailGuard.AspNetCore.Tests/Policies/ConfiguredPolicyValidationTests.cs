using EmailGuard.Testing.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>Every mistake in a policy from configuration stops the app with the setting's full path.</summary>
public sealed class ConfiguredPolicyValidationTests
{
    private const string Signup = "EmailGuard:Endpoints:Policies:signup";
    private const string Partition = "EmailGuard:Endpoints:Policies:signup:Partitions:0";

    // Each row: settings beside a valid first rule of partition 0, and the failure naming the setting.
    public static TheoryData<string[], string> Malformed => new()
    {
        { [$"{Partition}:Rules:0:Limit=0"], $"{Partition}:Rules:0:Limit must be between 1 and 1099511627776; it is 0." },
        { [$"{Partition}:Rules:0:Window=30 minutes"], $"{Partition}:Rules:0:Window: '30 minutes' is not a time span" },
        { [$"{Partition}:Rules:0:Algorithm=Sliding"], $"{Partition}:Rules:0:Algorithm: 'Sliding' is not one of FixedWindow, SlidingWindow, TokenBucket." },
        { [$"{Partition}:Rules:0:Burst=3"], $"{Partition}:Rules:0:Burst applies to a TokenBucket only; it is 3 on a FixedWindow." },
        { [$"{Partition}:Rules:0:Limt=3"], $"{Partition}:Rules:0:Limt: unknown setting; did you mean Limit?" },
        { [$"{Partition}:Rules:1:Limit=9", $"{Partition}:Rules:1:Window=00:15:00"], $"{Partition}:Rules:1 has the same window and algorithm as {Partition}:Rules:0; give each rule of a partition its own window." },
        { [$"{Partition}:PartitionBy=Ip"], $"{Partition}:PartitionBy: 'Ip' is not one of ClientIp, ClientNetwork, User, TenantClaim, TenantHeader, Field, RouteValue." },
        { [$"{Partition}:Partition=ClientIp"], $"{Partition}:Partition: unknown setting; did you mean PartitionBy?" },
        { [$"{Partition}:IPv6PrefixLength=48"], $"{Partition}:IPv6PrefixLength applies only to PartitionBy ClientNetwork; this partition is counted by ClientIp." },
        { [$"{Partition}:PartitionBy=ClientNetwork", $"{Partition}:IPv4PrefixLength=33"], $"{Partition}:IPv4PrefixLength must be between 1 and 32; it is 33." },
        { [$"{Partition}:PartitionBy=ClientNetwork", $"{Partition}:IPv6PrefixLength=0"], $"{Partition}:IPv6PrefixLength must be between 1 and 128; it is 0." },
        { [$"{Partition}:PartitionBy=Field"], $"{Partition}:Name is empty; a Field partition needs the name of the field it counts by." },
        { [$"{Partition}:PartitionBy=TenantClaim", $"{Partition}:Name= "], $"{Partition}:Name is empty; a TenantClaim partition needs the name of the claim type it counts by." },
        { [$"{Partition}:PartitionBy=TenantHeader", $"{Partition}:Name= X-Tenant"], $"{Partition}:Name is ' X-Tenant', with whitespace around the request header; remove the whitespace." },
        { [$"{Partition}:Name=email"], $"{Partition}:Name applies only to PartitionBy TenantClaim, TenantHeader, Field or RouteValue; this partition is counted by ClientIp." },
        { [$"{Partition}:PartitionBy=Field", $"{Partition}:Name=email", $"{Partition}:Comparison=CaseSensitive"], $"{Partition}:Comparison applies only to PartitionBy User, TenantClaim, TenantHeader or RouteValue; this partition is counted by Field." },
        { [$"{Partition}:PartitionBy=User", $"{Partition}:Comparison=Exact"], $"{Partition}:Comparison: 'Exact' is not one of IgnoreCase, CaseSensitive." },
        { [$"{Signup}:Partitions:1:PartitionBy=User"], $"{Signup}:Partitions:1:Rules is empty: a partition needs at least one rule" },
        { [$"{Signup}:Partitions:1:PartitionBy=ClientIp", $"{Signup}:Partitions:1:Rules:0:Limit=9", $"{Signup}:Partitions:1:Rules:0:Window=1d"], $"{Signup}:Partitions:1 counts by the same ClientIp as {Partition}; put the rules of both in one partition." },
        { [$"{Signup}:FailureMode=Closed"], $"{Signup}:FailureMode: 'Closed' is not one of FailOpen, FailClosed, LocalFallback." },
        { [$"{Signup}:ShadowMode=yes"], $"{Signup}:ShadowMode: 'yes' is not true or false." },
        { [$"{Signup}:WhenFieldMissing=Ignore"], $"{Signup}:WhenFieldMissing: 'Ignore' is not one of Reject, Skip." },
        { [$"{Signup}:WhenFieldRepeated=First"], $"{Signup}:WhenFieldRepeated: 'First' is not one of Reject, CountEach." },
        { [$"{Signup}:WhenValueMissing=Count"], $"{Signup}:WhenValueMissing: 'Count' is not one of Reject, ShareOneBucket, Skip." },
        { [$"{Signup}:WhenValueMissing=7"], $"{Signup}:WhenValueMissing: '7' is not one of Reject, ShareOneBucket, Skip." },
        { [$"{Signup}:WhenValueMissing=Reject"], $"{Signup}:WhenValueMissing applies only to a policy with a PartitionBy User, TenantClaim, TenantHeader or RouteValue partition; this one has none." },
        { [$"{Partition}:PartitionBy=Field", $"{Partition}:Name=email", $"{Signup}:WhenValueMissing=ShareOneBucket"], $"{Signup}:WhenValueMissing applies only to a policy with a PartitionBy User, TenantClaim, TenantHeader or RouteValue partition" },
        { [$"{Signup}:QuotaHeader=true"], $"{Signup}:QuotaHeader: unknown setting; did you mean QuotaHeaders?" },
        { [$"{Signup}:Limit=5"], $"{Signup}:Limit: unknown setting" },
        { ["EmailGuard:Endpoints:Policies:reset:ShadowMode=true"], "EmailGuard:Endpoints:Policies:reset:Partitions is empty: a policy counts requests in at least one partition" },
        { ["EmailGuard:Endpoints:PolicyDefenses:reset:RequireChallenge=true"], "EmailGuard:Endpoints:PolicyDefenses:reset: there is no endpoint policy named 'reset'." },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task Startup_MalformedPolicyFromConfiguration_FailsWithItsPath(string[] settings, string expected)
    {
        Dictionary<string, string?> configuration = TestSettings.Parse(settings);
        configuration.TryAdd($"{Partition}:Rules:0:Limit", "5");
        configuration.TryAdd($"{Partition}:Rules:0:Window", "15m");

        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().Contain(f => f.StartsWith(expected, StringComparison.Ordinal));
        failure.Failures.Should().AllSatisfy(f => StartupFailure.ShouldNameOneOf(f, configuration.Select(c => c.Key)));
    }

    [Fact]
    public async Task Startup_TwoPoliciesWhoseNamesMakeTheSameKeys_FailsNamingBoth()
    {
        // "sign up" and "sign_up" are both eg:ep:p.sign_up:… in the store: every request of either counted in one budget.
        Dictionary<string, string?> configuration = TestSettings.Parse(
            "EmailGuard:Endpoints:Policies:sign up:Partitions:0:Rules:0:Limit=5",
            "EmailGuard:Endpoints:Policies:sign_up:Partitions:0:Rules:0:Limit=5");

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:Endpoints:Policies: the endpoint policies ", StringComparison.Ordinal))
            .Which.Should().Contain("'sign up'").And.Contain("'sign_up'").And.Contain("would count in the same counters (store keys eg:ep:p.sign_up:ip:…)");
    }

    [Fact]
    public async Task Startup_TwoPathRulesWhoseEndpointsMakeTheSameKeys_FailsNamingBoth()
    {
        Dictionary<string, string?> configuration = TestSettings.Parse(
            "EmailGuard:Endpoints:PathRules:0:Endpoint=GET:/users/{id:int}", "EmailGuard:Endpoints:PathRules:0:Limit=5",
            "EmailGuard:Endpoints:PathRules:1:Endpoint=GET:/users/{id_int}", "EmailGuard:Endpoints:PathRules:1:Limit=5");

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().ContainSingle(f => f.StartsWith("EmailGuard:Endpoints:PathRules: the path rules ", StringComparison.Ordinal))
            .Which.Should().Contain("'GET:/users/{id:int}'").And.Contain("'GET:/users/{id_int}'").And.Contain("would count in the same counters");
    }

    [Fact]
    public async Task Startup_TwoPartitionsWhoseNamesMakeTheSameKeys_FailsNamingBoth()
    {
        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("share", p => p
                .PerKey("list id", c => c.Request.Query["a"], RateLimitRule.PerHour(3))
                .PerKey("list_id", c => c.Request.Query["b"], RateLimitRule.PerHour(3)))),
            _ => { });

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().ContainSingle().Which.Should().Be(
            "EmailGuard:Endpoints:Policies: the 'key' partitions 'list id' and 'list_id' of the endpoint policy 'share' would count in the same counters " +
            "(store keys eg:ep:p.share:key-list_id:…): a name's characters other than ASCII letters, digits, '-', '_', '.', '/' and '*' become '_' in its keys; rename one.");
    }

    [Fact]
    public async Task Startup_MistakesInTwoPolicies_NameEach()
    {
        Dictionary<string, string?> configuration = TestSettings.Parse(
            $"{Partition}:Rules:0:Limit=0", "EmailGuard:Endpoints:Policies:reset:Partitions:0:PartitionBy=RouteValue", "EmailGuard:Endpoints:Policies:reset:Partitions:0:Rules:0:Limit=1");

        Func<Task> start = () => TestApp.StartAsync(s => s.AddEmailGuard().AddEndpointPolicies(), _ => { }, configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().BeEquivalentTo(
            $"{Partition}:Rules:0:Limit must be between 1 and 1099511627776; it is 0.",
            "EmailGuard:Endpoints:Policies:reset:Partitions:0:Name is empty; a RouteValue partition needs the name of the route parameter it counts by.");
    }

    [Fact]
    public async Task Startup_MistakesOfEveryKindInPoliciesAndPathRules_ReportsEachInOneStart()
    {
        // A misspelt key, a value that does not convert and a value out of range, in a policy, a path rule and the section.
        // PathRules:0:Limit (left 0 by the misspelt Lmit) and Rules:1:Limit (left 0 by 'ten') are not reported out of range.
        Dictionary<string, string?> configuration = TestSettings.Parse(
            $"{Partition}:Rules:0:Limit=0", $"{Partition}:Rules:0:Window=15m",
            $"{Partition}:Rules:1:Limit=ten", $"{Partition}:Rules:1:Window=1h",
            $"{Signup}:ShadowMod=true",
            "EmailGuard:Endpoints:PathRules:0:Endpoint=POST:/signup", "EmailGuard:Endpoints:PathRules:0:Lmit=5", "EmailGuard:Endpoints:PathRules:0:Window=30 minutes",
            "EmailGuard:Endpoints:MaxBodyBytes=0");

        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        StartupFailure.ShouldBeOnePer(
            [.. failure.Failures],
            $"{Partition}:Rules:0:Limit must be between 1 and 1099511627776; it is 0.",
            $"{Partition}:Rules:1:Limit: 'ten' is not a whole number",
            $"{Signup}:ShadowMod: unknown setting; did you mean ShadowMode?",
            "EmailGuard:Endpoints:PathRules:0:Lmit: unknown setting; did you mean Limit?",
            "EmailGuard:Endpoints:PathRules:0:Window: '30 minutes' is not a time span",
            "EmailGuard:Endpoints:MaxBodyBytes must be between 1 and 16777216; it is 0.");
    }

    [Fact]
    public async Task Startup_PartitionByRefused_ReportsNoCheckThatJudgesTheDefaultKind()
    {
        // PartitionBy left at its default (ClientIp) by the misspelt kind: "Name applies only to ...; this partition is
        // counted by ClientIp" and "WhenValueMissing applies only to a policy with a PartitionBy User ... partition" judge that
        // default, not the tenant header partition that was written.
        Dictionary<string, string?> configuration = TestSettings.Parse(
            $"{Partition}:PartitionBy=TenantHeadr", $"{Partition}:Name=X-Tenant", $"{Signup}:WhenValueMissing=Reject",
            $"{Partition}:Rules:0:Limit=5", $"{Partition}:Rules:0:Window=15m");

        Func<Task> start = () => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
            configuration);

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        StartupFailure.ShouldBeOnePer([.. failure.Failures], $"{Partition}:PartitionBy: 'TenantHeadr' is not one of ");
    }
}
