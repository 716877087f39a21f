using EmailGuard.AspNetCore;
using EmailGuard.Dashboard.Tests.Pages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The policies page lists every endpoint the middleware limits, a Razor page handler's policy included.</summary>
public sealed class DashboardPoliciesTests
{
    [Fact]
    public async Task PoliciesPage_PageHandlerPolicy_ListedWithItsMethodAndHandler()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s =>
            {
                s.AddRazorPages().AddApplicationPart(typeof(SignupModel).Assembly);
                s.AddEmailGuard().AddEndpointPolicies(o =>
                {
                    o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                    o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                });
            },
            endpoints: app =>
            {
                app.MapRazorPages();
                app.MapPost("/api/share", () => Results.Ok()).RequireEmailRateLimit("share");
                app.MapGet("/api/status", () => Results.Ok()).RequireEmailRateLimit("share").DisableEmailRateLimit();
            });

        string html = await host.Client().GetStringAsync("/emailguard/policies");

        html.Should().Contain("<tr><td>/Signup</td><td>POST</td><td>OnPost</td><td>signup</td></tr>");
        html.Should().Contain("<tr><td>/api/share</td><td>POST</td><td></td><td>share</td></tr>");
        html.Should().Contain("<tr><td>/api/status</td><td>GET</td><td></td><td>none: EmailGuard disabled</td></tr>");
    }

    [Fact]
    public async Task PoliciesPage_ClientNetworkPathRule_ShowsItsPrefixLengths()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.PathRules.Add(new EmailGuardPathRule { Endpoint = "POST:/api/signup", Limit = 1 });
                o.PathRules.Add(new EmailGuardPathRule { Endpoint = "POST:/api/signup", Limit = 10, PartitionBy = PathRulePartitionKind.ClientNetwork, IPv6PrefixLength = 56 });
            }));

        string html = await host.Client().GetStringAsync("/emailguard/policies");

        html.Should().Contain("<td>ClientIp</td>");
        html.Should().Contain("<td>ClientNetwork (IPv4 /24, IPv6 /56)</td>");
    }

    [Fact]
    public async Task PoliciesPage_PolicyFromConfiguration_ListedWithItsPartitionsRulesAndModes()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                EmailGuardPolicyOptions signup = new() { FailureMode = StoreFailureMode.FailClosed };
                signup.Partitions.Add(Partition(PolicyPartitionKind.Field, "email", new RateLimitRuleOptions { Limit = 3, Window = TimeSpan.FromHours(1) }));
                signup.Partitions.Add(Partition(PolicyPartitionKind.ClientNetwork, null, new RateLimitRuleOptions { Limit = 10, Window = TimeSpan.FromMinutes(1) }, ipv6: 56));
                o.Policies["signup"] = signup;
                EmailGuardPolicyOptions trial = new() { ShadowMode = true };
                trial.Partitions.Add(Partition(PolicyPartitionKind.ClientIp, null, new RateLimitRuleOptions { Limit = 1, Window = TimeSpan.FromDays(1) }));
                o.Policies["<b>trial</b>"] = trial;
            }),
            endpoints: app => app.MapPost("/api/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        string html = await host.Client().GetStringAsync("/emailguard/policies");

        html.Should().Contain("<tr><td>signup</td><td>Field email</td><td>3 per hour (FixedWindow)</td><td>FailClosed</td><td>enforced</td></tr>");
        html.Should().Contain("<tr><td>signup</td><td>ClientNetwork (IPv4 /24, IPv6 /56)</td><td>10 per minute (FixedWindow)</td><td>FailClosed</td><td>enforced</td></tr>");
        html.Should().Contain("<tr><td>&lt;b&gt;trial&lt;/b&gt;</td><td>ClientIp</td><td>1 per day (UTC) (FixedWindow)</td><td>FailOpen</td><td>shadow: counts, never blocks</td></tr>");
    }

    [Fact]
    public async Task PoliciesPage_NoPolicyFromConfiguration_SaysSo()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)))));

        string html = await host.Client().GetStringAsync("/emailguard/policies");

        html.Should().Contain("id=\"no-configured-policies\"");
    }

    [Fact]
    public async Task PoliciesPage_ReloadedEndpointsConfigurationInvalid_SaysSoInsteadOfFailing()
    {
        // A reload whose options fail validation: the endpoints keep their rules (207); the page reads the options as they stand.
        FlippingValidator validator = new();
        ManualChangeTokenSource reload = new();
        await using DashboardHost host = await DashboardHost.StartAsync(services: s =>
        {
            s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1))));
            s.AddSingleton<IValidateOptions<EmailGuardEndpointOptions>>(validator);
            s.AddSingleton<IOptionsChangeTokenSource<EmailGuardEndpointOptions>>(reload);
        });
        using HttpClient client = host.Client();
        string before = await client.GetStringAsync("/emailguard/policies");

        validator.Failure = "EmailGuard:Endpoints:Policies:signup:Partitions:0:Rules:0:Limit must be positive <b>";
        // The options monitor reads the options again for its listeners while the token fires, and that read throws here.
        Action fire = reload.Fire;
        fire.Should().Throw<AggregateException>();
        HttpResponseMessage after = await client.GetAsync("/emailguard/policies");

        before.Should().NotContain("endpoints-invalid");
        after.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
        (await after.Content.ReadAsStringAsync()).Should().Contain("id=\"endpoints-invalid\"").And.Contain("Limit must be positive &lt;b&gt;");
    }

    private sealed class FlippingValidator : IValidateOptions<EmailGuardEndpointOptions>
    {
        public string? Failure { get; set; }

        public ValidateOptionsResult Validate(string? name, EmailGuardEndpointOptions options)
            => Failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(Failure);
    }

    private sealed class ManualChangeTokenSource : IOptionsChangeTokenSource<EmailGuardEndpointOptions>
    {
        private CancellationTokenSource _source = new();

        public string? Name => Options.DefaultName;

        public IChangeToken GetChangeToken() => new CancellationChangeToken(_source.Token);

        public void Fire() => Interlocked.Exchange(ref _source, new CancellationTokenSource()).Cancel();
    }

    private static EmailGuardPolicyPartitionOptions Partition(PolicyPartitionKind kind, string? name, RateLimitRuleOptions rule, int? ipv6 = null)
    {
        EmailGuardPolicyPartitionOptions partition = new() { PartitionBy = kind, Name = name, IPv6PrefixLength = ipv6 };
        partition.Rules.Add(rule);
        return partition;
    }
}
