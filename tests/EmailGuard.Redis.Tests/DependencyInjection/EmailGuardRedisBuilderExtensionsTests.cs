using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.DependencyInjection;

/// <summary><c>AddRedisStore</c> wired to a single Redis node.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class EmailGuardRedisBuilderExtensionsTests(RedisServerFixture redis)
    : EmailGuardRedisBuilderExtensionsTestsBase(redis.CreateMultiplexer, redis.ConnectionString);

/// <summary>
/// <c>AddRedisStore</c> as an app wires it, against real Redis: the connection string an app would configure, or the
/// multiplexer it already registered. Run on one node and on the cluster.
/// </summary>
public abstract class EmailGuardRedisBuilderExtensionsTestsBase(Func<ConnectionMultiplexer> connect, string connectionString) : RedisStoreTestBase(connect)
{
    [Fact]
    public async Task AddRedisStore_WithConnectionString_ReplacesTheInMemoryStore()
    {
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = connectionString;
            o.KeyPrefix = Prefix;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        IRateLimitStore store = provider.GetRequiredService<IRateLimitStore>();

        // About a day, centred on now (the store counts on the server's clock): a minute's window could end between the
        // acquire and the look for its key, which then has expired.
        RateLimitRule rule = CenteredWindow.PerDay(1);
        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("di", rule) }, Memory<RateLimitEntry>.Empty);

        store.Should().BeOfType<RedisRateLimitStore>().Which.Connection.Should().BeSameAs(provider.GetRequiredService<RedisConnection>());
        provider.GetRequiredService<RedisConnection>().KeyPrefix.Should().Be(Prefix);
        decision.IsAllowed.Should().BeTrue();
        (await Admin.GetDatabase().KeyExistsAsync(((RedisRateLimitStore)store).CounterKey("di", rule))).Should().BeTrue();
    }

    [Fact]
    public async Task AddRedisStore_WithConnectionString_TakesSeveralPartitionsInOneAcquire()
    {
        // On a cluster these partitions hash to different slots: the store must learn from the connection it made
        // itself that it talks to a cluster, or one script over all of them fails with CROSSSLOT.
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.Configuration = connectionString;
            o.KeyPrefix = Prefix;
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        RedisRateLimitStore store = (RedisRateLimitStore)provider.GetRequiredService<IRateLimitStore>();
        // About a day, centred on now (the store counts on the server's clock): a minute's window could end between the
        // two acquires, and the second would be admitted in the next.
        RateLimitRule rule = CenteredWindow.PerDay(1);
        RateLimitRequest[] requests = [new("tenant:a", rule), new("sender:b", rule), new("rcpt:c", rule)];
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];

        RateLimitDecision first = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        RateLimitDecision second = await store.AcquireAsync(requests, entries);

        bool cluster = Admin.GetServers()[0].ServerType == ServerType.Cluster;
        requests.Select(r => Admin.HashSlot(store.CounterKey(r.Key, rule))).Distinct().Should().HaveCount(
            cluster ? 3 : 1, "on a cluster the partitions must span slots (a single server has no slots: -1)");
        first.IsAllowed.Should().BeTrue();
        second.Status.Should().Be(RateLimitStatus.LimitExceeded);
        entries.Select(e => e.Count).Should().Equal(1, 1, 1);
        store.Connection.IsCluster.Should().Be(cluster);
    }

    [Fact]
    public async Task AddRedisStore_NoConnectionSetButMultiplexerRegistered_UsesItLazily()
    {
        int resolved = 0;
        ServiceCollection services = new();
        services.AddSingleton<IConnectionMultiplexer>(_ =>
        {
            Interlocked.Increment(ref resolved);
            return Admin;
        });
        services.AddEmailGuard().AddRedisStore(o => o.KeyPrefix = Prefix);
        await using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        IRateLimitStore store = provider.GetRequiredService<IRateLimitStore>();
        int resolvedBeforeFirstCall = resolved;
        RateLimitDecision decision = await store.PeekAsync(
            new[] { new RateLimitRequest("lazy", RateLimitRule.PerMinute(1), 0) }, Memory<RateLimitEntry>.Empty);

        resolvedBeforeFirstCall.Should().Be(0, "the connection is made on first use, not at startup");
        resolved.Should().Be(1);
        decision.IsAllowed.Should().BeTrue();
    }
}
