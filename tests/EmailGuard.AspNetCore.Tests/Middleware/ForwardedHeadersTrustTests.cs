using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// An app that takes X-Forwarded-For from every sender lets any client pick its partition; EmailGuard cannot fix the
/// topology, but warns once at start (event 2994) when something counts per client IP.
/// </summary>
public sealed class ForwardedHeadersTrustTests
{
    private const int TrustsEverySender = 2994;

    private static Task<TestApp> StartAsync(
        Action<EmailRateLimitPolicyBuilder> policy,
        Action<ForwardedHeadersOptions> forwarded,
        Action<IServiceCollection>? services = null,
        IDictionary<string, string?>? configuration = null) => TestApp.StartAsync(
        s =>
        {
            s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", policy));
            s.Configure(forwarded);
            services?.Invoke(s);
        },
        a =>
        {
            a.UseForwardedHeaders();
            a.UseEmailGuard();
            a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
        },
        configuration,
        useEmailGuard: false);

    private static void TrustEveryone(ForwardedHeadersOptions o)
    {
        o.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
        o.KnownProxies.Clear();
        o.KnownIPNetworks.Clear();
        o.ForwardLimit = null;
    }

    [Fact]
    public async Task PerClientIp_ForwardedForTrustedFromEverySenderWithoutForwardLimit_WarnsOnceAtStartNamingTheFix()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(15))), TrustEveryone);

        int ok = 0;
        for (int i = 1; i <= 12; i++)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", "203.0.113.7");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", $"198.51.100.{i}");
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        ok.Should().Be(12, "the app, not EmailGuard, lets every client pick its address: that is what the warning is for");
        var warning = app.Logs.GetSnapshot().Where(r => r.Id.Id == TrustsEverySender).Should().ContainSingle().Subject;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Message.Should().Contain("policy 'signup'").And.Contain("KnownProxies").And.Contain("ForwardLimit = 1");
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 203, "event 203 is for a header nobody applies");
    }

    [Fact]
    public async Task PerClientIp_ForwardedHeadersEnabledByConfigurationWithoutForwardLimit_Warns()
    {
        // What ASPNETCORE_FORWARDEDHEADERS_ENABLED=true sets up: X-Forwarded-For from any sender, no proxy named.
        await using TestApp app = await StartAsync(
            p => p.PerClientIp(RateLimitRule.PerHour(1)),
            o => o.ForwardLimit = 2,
            configuration: new Dictionary<string, string?> { ["FORWARDEDHEADERS_ENABLED"] = "true" });

        app.Logs.GetSnapshot().Where(r => r.Id.Id == TrustsEverySender).Should().ContainSingle()
            .Which.Message.Should().Contain("ForwardLimit 2");
    }

    [Fact]
    public async Task SendGuardClientIpRules_ForwardedForTrustedFromEverySender_WarnsNamingTheSetting()
    {
        await using TestApp app = await StartAsync(
            p => p.PerKey("all", _ => "all", RateLimitRule.PerHour(100)),
            TrustEveryone,
            s => s.AddEmailGuard().AddSendGuard(o => o.ClientIp.Add(RateLimitRule.PerHour(5))));

        app.Logs.GetSnapshot().Where(r => r.Id.Id == TrustsEverySender).Should().ContainSingle()
            .Which.Message.Should().Contain("EmailGuard:SendGuard:ClientIp").And.NotContain("policy 'signup'");
    }

    [Fact]
    public async Task PerClientIp_ForwardLimitOne_NoWarning()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)), o =>
        {
            TrustEveryone(o);
            o.ForwardLimit = 1;
        });

        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == TrustsEverySender);
    }

    [Fact]
    public async Task PerClientIp_KnownProxy_NoWarning()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)), o =>
        {
            TrustEveryone(o);
            o.KnownProxies.Add(IPAddress.Parse("10.1.2.3"));
        });

        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == TrustsEverySender);
    }

    [Fact]
    public async Task NothingCountsPerClientIp_ForwardedForTrustedFromEverySender_NoWarning()
    {
        await using TestApp app = await StartAsync(p => p.PerField("email", RateLimitRule.PerHour(1)), TrustEveryone);

        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == TrustsEverySender);
    }
}
