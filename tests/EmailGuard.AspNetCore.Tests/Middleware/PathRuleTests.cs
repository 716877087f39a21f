using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class PathRuleTests
{
    private static Dictionary<string, string?> Rules() => new()
    {
        ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/webhook/incoming",
        ["EmailGuard:Endpoints:PathRules:0:Limit"] = "3",
        ["EmailGuard:Endpoints:PathRules:0:Window"] = "00:01:00",
        ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "GET:/api/v1/mailbox/*",
        ["EmailGuard:Endpoints:PathRules:1:Limit"] = "2",
        ["EmailGuard:Endpoints:PathRules:2:Endpoint"] = "*",
        ["EmailGuard:Endpoints:PathRules:2:Limit"] = "4",
        ["EmailGuard:Endpoints:PathRuleAllowlist:0"] = "GET:/health",
        ["EmailGuard:Endpoints:PathRuleAllowlist:1"] = "*:/ws/*",
    };

    private static Task<TestApp> StartAsync(Dictionary<string, string?>? configuration = null) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(),
        a =>
        {
            a.MapPost("/api/webhook/incoming", () => Results.Ok());
            a.MapGet("/api/v1/mailbox/{id}", (string id) => Results.Ok(id));
            a.MapGet("/api/v1/mailbox/{id}/messages", (string id) => Results.Ok(id));
            a.MapGet("/health", () => Results.Ok());
            a.MapGet("/ws/chat", () => Results.Ok());
            a.MapGet("/other", () => Results.Ok());
            a.MapGet("/exempt", () => Results.Ok()).DisableEmailRateLimit();
        },
        configuration ?? Rules());

    private static async Task<int> CountOkAsync(TestApp app, HttpMethod method, string path, int times, string ip = "203.0.113.1")
    {
        int ok = 0;
        for (int i = 0; i < times; i++)
        {
            using HttpResponseMessage response = await app.SendAsync(method, path, ip);
            ok += response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        }

        return ok;
    }

    [Fact]
    public async Task ExactRule_PerIp_LimitsOnlyThatEndpointAndMethod()
    {
        await using TestApp app = await StartAsync();

        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 10)).Should().Be(3);
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 2, "203.0.113.2")).Should().Be(2);
        (await CountOkAsync(app, HttpMethod.Post, "/API/Webhook/Incoming/", 1)).Should().Be(0, "case and a trailing slash do not dodge the rule");
    }

    [Theory]
    [InlineData("/api/tenants/acme%20/invite")]
    [InlineData("/api/tenants/%EF%BD%81cme/invite")]
    [InlineData("/api/tenants/ac%E2%80%8Bme/invite")]
    public async Task ExactRule_OnARouteValue_ThatValueSpelledAnotherWay_CountsInTheRulesCounter(string path)
    {
        // Arrange: a rule on one value of a route parameter. The app looks the value up as route-value partitions fold
        // it (SQL Server compares 'acme ' equal to 'acme'; a fullwidth letter or a zero-width space reads as nothing new),
        // so a spelling the rule did not name was the same tenant's invite, never limited.
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/tenants/acme/invite",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "2",
        };
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/api/tenants/{tenant}/invite", (string tenant) => Results.Ok(tenant)),
            configuration);
        (await CountOkAsync(app, HttpMethod.Post, "/api/tenants/acme/invite", 2)).Should().Be(2);

        // Act
        int ok = await CountOkAsync(app, HttpMethod.Post, path, 1);

        // Assert
        ok.Should().Be(0, "the value is the rule's, spelled another way");
        (await CountOkAsync(app, HttpMethod.Post, "/api/tenants/acmes/invite", 1)).Should().Be(1, "another value is not the rule's");
    }

    [Fact]
    public async Task Allowlist_ASegmentSpelledAnotherWay_IsNotExempt()
    {
        // The allowlist stays exact: folded, it would exempt '/health%20' from the fallback, which a '/{page}' route serves.
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "*",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "2",
            ["EmailGuard:Endpoints:PathRuleAllowlist:0"] = "GET:/health",
        };
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapGet("/{page}", (string page) => Results.Ok(page)),
            configuration);

        (await CountOkAsync(app, HttpMethod.Get, "/health", 5)).Should().Be(5);
        (await CountOkAsync(app, HttpMethod.Get, "/health%20", 5)).Should().Be(2);
    }

    [Fact]
    public async Task TrailingWildcard_MatchesEveryDeeperPathInOneCounter()
    {
        await using TestApp app = await StartAsync();

        (await CountOkAsync(app, HttpMethod.Get, "/api/v1/mailbox/1", 1)).Should().Be(1);
        (await CountOkAsync(app, HttpMethod.Get, "/api/v1/mailbox/2/messages", 1)).Should().Be(1);
        (await CountOkAsync(app, HttpMethod.Get, "/api/v1/mailbox/3", 1)).Should().Be(0);
    }

    [Fact]
    public async Task Fallback_AppliesOnlyWhereNoOtherRuleMatches()
    {
        await using TestApp app = await StartAsync();

        (await CountOkAsync(app, HttpMethod.Get, "/other", 10)).Should().Be(4);
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 3)).Should().Be(3, "the webhook has its own rule and counter");
    }

    [Fact]
    public async Task Allowlist_AndDisableEmailRateLimit_NeverLimited()
    {
        await using TestApp app = await StartAsync();

        (await CountOkAsync(app, HttpMethod.Get, "/health", 10)).Should().Be(10);
        (await CountOkAsync(app, HttpMethod.Get, "/ws/chat", 10)).Should().Be(10);
        (await CountOkAsync(app, HttpMethod.Get, "/exempt", 10)).Should().Be(10);
    }

    [Fact]
    public async Task ConfigurationReload_NewLimitAppliesWithoutRestart()
    {
        await using TestApp app = await StartAsync();
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 5)).Should().Be(3);

        app.App.Configuration["EmailGuard:Endpoints:PathRules:0:Limit"] = "6";
        ((IConfigurationRoot)app.App.Configuration).Reload();

        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 5)).Should().Be(3, "the raised limit counts the same window's counter");
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 206);
    }

    [Fact]
    public async Task ConfigurationReload_InvalidChange_KeepsPreviousRules()
    {
        await using TestApp app = await StartAsync();

        app.App.Configuration["EmailGuard:Endpoints:PathRules:0:Limit"] = "0";
        Action reload = () => ((IConfigurationRoot)app.App.Configuration).Reload();
        reload.Should().NotThrow();

        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 5)).Should().Be(3);
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 207);
    }

    [Fact]
    public async Task GlobalPartition_AllClientsShareTheCounter()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/webhook/incoming",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "2",
            ["EmailGuard:Endpoints:PathRules:0:PartitionBy"] = "Global",
        };
        await using TestApp app = await StartAsync(configuration);

        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "203.0.113.1")).Should().Be(1);
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "203.0.113.2")).Should().Be(1);
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "203.0.113.3")).Should().Be(0);
    }

    [Fact]
    public async Task ClientNetworkPartition_BotRotatingThroughItsSlash48_IsHeldToTheNetworkLimit()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/webhook/incoming",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
            ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/api/webhook/incoming",
            ["EmailGuard:Endpoints:PathRules:1:Limit"] = "3",
            ["EmailGuard:Endpoints:PathRules:1:PartitionBy"] = "ClientNetwork",
        };
        await using TestApp app = await StartAsync(configuration);

        int admitted = 0;
        for (int i = 1; i <= 50; i++)
        {
            admitted += await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, $"2001:db8:7:{i:x}::1");
        }

        admitted.Should().Be(3, "the 50 /64s are one /48, the default network of a ClientNetwork rule");
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 2, "2001:db8:8::1")).Should().Be(1, "another /48 has its own network counter, and its /64 the per-IP limit of 1");
    }

    [Fact]
    public async Task ClientNetworkPartition_ConfiguredPrefixes_GroupByThem()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/webhook/incoming",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "2",
            ["EmailGuard:Endpoints:PathRules:0:PartitionBy"] = "ClientNetwork",
            ["EmailGuard:Endpoints:PathRules:0:IPv4PrefixLength"] = "16",
        };
        await using TestApp app = await StartAsync(configuration);

        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "198.51.1.1")).Should().Be(1);
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "198.51.200.1")).Should().Be(1);
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "198.51.100.1")).Should().Be(0, "all three are one /16");
        (await CountOkAsync(app, HttpMethod.Post, "/api/webhook/incoming", 1, "198.52.0.1")).Should().Be(1);
    }

    [Theory]
    [InlineData("POST:/api/webhook/incoming", "POST", "/api/webhook/incoming", true)]
    [InlineData("POST:/api/webhook/incoming", "GET", "/api/webhook/incoming", false)]
    [InlineData("POST:/api/webhook/incoming", "POST", "/api/webhook/incoming/x", false)]
    [InlineData("GET:/api/v1/mailbox/*", "GET", "/api/v1/mailbox", false)]
    [InlineData("GET:/api/v1/mailbox/*", "get", "/api/v1/mailbox/a/b/c", true)]
    [InlineData("*:/api/*/send", "PUT", "/api/orders/send", true)]
    [InlineData("*:/api/*/send", "PUT", "/api/orders/x/send", false)]
    [InlineData("*", "DELETE", "/anything", true)]
    [InlineData("POST:/a", "POST", "//a//", true)]
    public void PathPattern_Matches(string pattern, string method, string path, bool expected)
    {
        PathPattern.TryParse(pattern, out PathPattern? parsed, out _).Should().BeTrue();

        parsed!.Matches(method, path).Should().Be(expected);
    }
}
