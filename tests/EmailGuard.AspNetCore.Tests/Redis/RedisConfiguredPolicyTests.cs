using System.Net;
using EmailGuard.Testing.Configuration;
using EmailGuard.Testing.Redis;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>A policy from configuration, with its counters in a real Redis, shared by two instances of the app.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisConfiguredPolicyTests(RedisServerFixture redis)
{
    private const string Signup = "EmailGuard:Endpoints:Policies:signup";

    private Task<TestApp> StartAsync(string prefix) => TestApp.StartAsync(
        s => s.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = prefix;
                o.UseServerTime = false;
            })
            .AddEndpointPolicies(),
        a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
        TestSettings.Parse(
            $"{Signup}:Partitions:0:PartitionBy=ClientIp", $"{Signup}:Partitions:0:Rules:0:Limit=3", $"{Signup}:Partitions:0:Rules:0:Window=15m",
            $"{Signup}:FailureMode=FailClosed"));

    [Fact]
    public async Task Policy_FromConfiguration_OnRedis_AdmitsItsLimitAcrossInstancesThenRejects()
    {
        string prefix = RedisServerFixture.UniquePrefix();
        await using TestApp first = await StartAsync(prefix);
        await using TestApp second = await StartAsync(prefix);

        List<HttpStatusCode> statuses = [.. await first.PostAllAsync("203.0.113.7", "/signup", "/signup"), .. await second.PostAllAsync("203.0.113.7", "/signup", "/signup", "/signup")];
        using HttpResponseMessage otherClient = await second.PostAsync("/signup", "198.51.100.20");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        otherClient.StatusCode.Should().Be(HttpStatusCode.OK);
    }
}
