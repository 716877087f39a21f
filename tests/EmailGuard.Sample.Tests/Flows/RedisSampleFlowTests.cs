using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.Sample.Tests;

/// <summary>The sample's flows with <c>EmailGuard:Redis:Configuration</c> set: every counter lives in a real Redis.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSampleFlowTests(RedisServerFixture redis) : SampleFlowTests
{
    private readonly string _prefix = $"sample-test:{Guid.NewGuid():N}:";

    protected override IDictionary<string, string?> Settings() => new Dictionary<string, string?>
    {
        ["EmailGuard:Redis:Configuration"] = redis.ConnectionString,
        ["EmailGuard:Redis:KeyPrefix"] = _prefix,
    };

    [Fact]
    public async Task Signup_WithRedisConfigured_CountsInRedisWithTtls()
    {
        using SampleHttpClient client = new(App.BaseAddress);

        (await client.SubmitAsync("/signup", "/signup", ("email", "first@example.com"))).Dispose();

        App.Services.GetRequiredService<IRateLimitStore>().GetType().Name.Should().Be("RedisRateLimitStore");
        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        IServer server = connection.GetServers()[0];
        RedisKey[] keys = [.. server.Keys(pattern: _prefix + "*")];
        keys.Should().NotBeEmpty("the endpoint policy and the send guard count in Redis");
        foreach (RedisKey key in keys)
        {
            // PTTL tells a key with no expiry (-1) from one that expired since it was listed (-2): the pacing bucket's
            // key lives for the milliseconds until its next token, and KeyTimeToLive reports both as null.
            long ttl = (long)await connection.GetDatabase().ExecuteAsync("PTTL", key);
            ttl.Should().NotBe(-1, $"{key} must expire");
        }
    }

    [Fact]
    public async Task Suspend_WithRedisConfigured_StoresTheFlagInRedis()
    {
        using SampleHttpClient admin = new(App.BaseAddress, SampleApp.AdminKey);

        (await admin.SuspendTenantAsync("trial-42")).StatusCode.Should().Be(System.Net.HttpStatusCode.SeeOther);

        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        IServer server = connection.GetServers()[0];
        RedisKey[] state = [.. server.Keys(pattern: _prefix + "{" + _prefix + "guard}*")];
        state.Should().NotBeEmpty("every instance must see the suspension, so it lives in Redis");
    }
}
