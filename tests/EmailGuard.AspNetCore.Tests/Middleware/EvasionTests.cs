using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore.Tests;

public sealed class EvasionTests
{
    private static Task<TestApp> StartAsync(Action<EmailRateLimitPolicyBuilder> policy, Action<IServiceCollection>? services = null) => TestApp.StartAsync(
        s =>
        {
            s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", policy));
            services?.Invoke(s);
        },
        app => app.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

    [Fact]
    public async Task ClientIp_SpoofedForwardedForWithoutTrustedProxy_PartitionUnchangedAndWarnedOnce()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", "203.0.113.7");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", $"10.0.0.{i + 1}");
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 203).Should().ContainSingle()
            .Which.Level.Should().Be(LogLevel.Warning);
    }

    [Fact]
    public async Task ClientIp_NoForwardedFor_NoProxyWarning()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));

        (await app.PostAsync("/signup", "203.0.113.7")).Dispose();

        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 203);
    }

    [Fact]
    public async Task ClientIp_TrustedProxyConfigured_NoProxyWarning()
    {
        await using TestApp app = await StartAsync(
            p => p.PerClientIp(RateLimitRule.PerHour(1)),
            s => s.Configure<ForwardedHeadersOptions>(o =>
            {
                o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor;
                o.KnownProxies.Add(IPAddress.Parse("10.1.2.3"));
            }));
        HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", "203.0.113.7");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "10.0.0.1");

        (await app.Client.SendAsync(request)).Dispose();

        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 203);
    }

    [Fact]
    public async Task ClientIp_ForwardedHeadersFromTrustedLoopbackProxy_PartitionsByForwardedClientWithoutWarning()
    {
        await using TestApp app = await TestApp.StartAsync(
            s =>
            {
                s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1))));
                s.Configure<ForwardedHeadersOptions>(o => o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor);
            },
            a =>
            {
                a.UseForwardedHeaders();
                a.UseEmailGuard();
                a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
            },
            useEmailGuard: false);

        async Task<HttpStatusCode> ViaProxy(string client)
        {
            HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/signup", "127.0.0.1");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", client);
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            return response.StatusCode;
        }

        (await ViaProxy("203.0.113.7")).Should().Be(HttpStatusCode.OK);
        (await ViaProxy("203.0.113.7")).Should().Be(HttpStatusCode.TooManyRequests);
        (await ViaProxy("198.51.100.20")).Should().Be(HttpStatusCode.OK, "the proxy's clients are told apart by the applied header");
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 203);
    }

    [Fact]
    public async Task ClientIp_HundredAddressesInOneIPv6Slash64_ShareOneCounter()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(10)));

        int ok = 0;
        for (int i = 1; i <= 100; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", $"2001:db8:1:2:{i:x}:{i * 7:x}:{i * 13:x}:{i:x}");
            ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        using HttpResponseMessage otherNetwork = await app.PostAsync("/signup", "2001:db8:1:3::1");
        ok.Should().Be(10);
        otherNetwork.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ClientIp_IPv4MappedIPv6_SharesCounterWithIPv4()
    {
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));

        using HttpResponseMessage v4 = await app.PostAsync("/signup", "203.0.113.7");
        using HttpResponseMessage mapped = await app.PostAsync("/signup", "::ffff:203.0.113.7");

        v4.StatusCode.Should().Be(HttpStatusCode.OK);
        mapped.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ClientIp_6to4Rotation_CountsTheIPv4HostOnce()
    {
        // 2002:cb00:7107::/48 is 203.0.113.7's: grouped by /64, that host had 65,536 fresh buckets.
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(3)));

        int ok = 0;
        for (int i = 1; i <= 20; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", $"2002:cb00:7107:{i:x}::1");
            ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        using HttpResponseMessage v4 = await app.PostAsync("/signup", "203.0.113.7");
        ok.Should().Be(3);
        v4.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ClientIp_Nat64Clients_AreCountedApart()
    {
        // Behind a NAT64/SIIT translator every IPv4 client is 64:ff9b::<IPv4>: grouped by /64, one bot's limit was everyone's.
        await using TestApp app = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));

        using HttpResponseMessage bot = await app.PostAsync("/signup", "64:ff9b::198.51.100.66");
        using HttpResponseMessage botAgain = await app.PostAsync("/signup", "64:ff9b::198.51.100.66");
        using HttpResponseMessage stranger = await app.PostAsync("/signup", "64:ff9b::203.0.113.9");

        bot.StatusCode.Should().Be(HttpStatusCode.OK);
        botAgain.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        stranger.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ClientIp_ConfiguredIPv6Prefix48_GroupsWholeSlash48()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.IPv6PrefixLength = 48;
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)));
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        using HttpResponseMessage first = await app.PostAsync("/signup", "2001:db8:1:2::1");
        using HttpResponseMessage sameSlash48 = await app.PostAsync("/signup", "2001:db8:1:ffff::1");

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        sameSlash48.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    /// <summary>
    /// A bot with an IPv6 /48 (what a hosting provider or many ISPs hand out) has 65,536 /64s: per client IP alone it
    /// gets the per-IP limit 65,536 times over. The network partition holds the whole /48 to its own limit, and a client
    /// in another /48 is not touched.
    /// </summary>
    [Fact]
    public async Task ClientNetwork_BotRotatingThroughTheSlash64sOfItsSlash48_IsHeldToTheNetworkLimit()
    {
        await using TestApp perIpOnly = await StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(1)));
        await using TestApp app = await StartAsync(p => p
            .PerClientIp(RateLimitRule.PerHour(1))
            .PerClientNetwork(24, 48, RateLimitRule.PerHour(5)));

        int admittedPerIpOnly = 0;
        int admitted = 0;
        for (int i = 1; i <= 300; i++)
        {
            string address = $"2001:db8:1:{i:x}::1";
            using HttpResponseMessage baseline = await perIpOnly.PostAsync("/signup", address);
            using HttpResponseMessage response = await app.PostAsync("/signup", address);
            admittedPerIpOnly += baseline.StatusCode == HttpStatusCode.OK ? 1 : 0;
            admitted += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        using HttpResponseMessage otherNetwork = await app.PostAsync("/signup", "2001:db8:2::1");

        admittedPerIpOnly.Should().Be(300, "each /64 is a client of its own to a per-IP limit");
        admitted.Should().Be(5);
        otherNetwork.StatusCode.Should().Be(HttpStatusCode.OK);
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 201 && r.Message.Contains("(net limit 5 per", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientNetwork_BotRotatingThroughARentedIPv4Slash24_IsHeldToTheNetworkLimit()
    {
        await using TestApp app = await StartAsync(p => p
            .PerClientIp(RateLimitRule.PerHour(1))
            .PerClientNetwork(24, 48, RateLimitRule.PerHour(5)));

        var statuses = new List<HttpStatusCode>();
        for (int i = 1; i <= 254; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", $"203.0.113.{i}");
            statuses.Add(response.StatusCode);
        }

        using HttpResponseMessage sameAddressAgain = await app.PostAsync("/signup", "203.0.113.1");
        using HttpResponseMessage otherNetwork = await app.PostAsync("/signup", "203.0.114.1");

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(5);
        statuses.Take(5).Should().OnlyContain(s => s == HttpStatusCode.OK, "the first five addresses are within both limits");
        sameAddressAgain.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        otherNetwork.StatusCode.Should().Be(HttpStatusCode.OK);
        statuses.Skip(5).Should().OnlyContain(s => s == HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ClientNetwork_TwoNetworksInOnePolicy_EachCountsItsOwnPrefix()
    {
        await using TestApp app = await StartAsync(p => p
            .PerClientNetwork(32, 56, RateLimitRule.PerHour(2))
            .PerClientNetwork(24, 48, RateLimitRule.PerHour(3)));

        // Two /56s of one /48: each /56 is held to 2, and the /48 to 3 in all; a denied request counts in neither.
        string[] addresses = ["2001:db8:1:100::1", "2001:db8:1:100::2", "2001:db8:1:100::3", "2001:db8:1:200::1", "2001:db8:1:200::2"];
        var statuses = new List<HttpStatusCode>();
        foreach (string address in addresses)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", address);
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Theory]
    [InlineData(0, 48)]
    [InlineData(33, 48)]
    [InlineData(24, 0)]
    [InlineData(24, 129)]
    public void ClientNetwork_PrefixLengthOutOfRange_Throws(int ipv4PrefixLength, int ipv6PrefixLength)
    {
        EmailGuardEndpointOptions options = new();
        Action act = () => options.AddPolicy("signup", p => p.PerClientNetwork(ipv4PrefixLength, ipv6PrefixLength, RateLimitRule.PerHour(5)));

        act.Should().Throw<ArgumentOutOfRangeException>();
    }
}
