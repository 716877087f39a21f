using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>The send guard's incident scenarios on a single Redis node.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSendGuardScenarioTests(RedisServerFixture redis) : RedisSendGuardScenarioTestsBase(redis.CreateMultiplexer);

/// <summary>
/// The send guard's incident scenarios on Redis: counters, lists and flags all in Redis; instances on separate
/// multiplexers. After each test every counter and every state key that should expire has a TTL.
/// </summary>
public abstract class RedisSendGuardScenarioTestsBase(Func<ConnectionMultiplexer> connect) : SendGuardScenarioTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly string _statePrefix = RedisServerFixture.UniquePrefix();
    private readonly string _keyValuePrefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer Admin => field ??= connect();

    protected override IRateLimitStore CreateStore(FakeTimeProvider time) => RedisStoreTestBase.CreateStore(Admin, _prefix, time);

    internal override IEmailGuardStateStore CreateStateStore(FakeTimeProvider time)
        => new RedisEmailGuardStateStore(new RedisConnection(Admin, _statePrefix), time);

    // Each instance on its own multiplexer, all under one prefix of their own (the TTL check of counters skips it).
    internal override IEmailGuardKeyValueStore CreateKeyValueStore(FakeTimeProvider time) => new RedisKeyValueStore(new RedisConnection(connect(), _keyValuePrefix));

    protected override IReadOnlyList<SendGuardHarness> CreateInstances(int count, Action<SendGuardOptions> configure, ITenantLimitProvider? tenantLimits = null)
    {
        FakeTimeProvider time = new(Start);
        return [.. Enumerable.Range(0, count).Select(_ => Create(configure, time, RedisStoreTestBase.CreateStore(connect(), _prefix, time), tenantLimits))];
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(Admin, _prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty();
        (await RedisGuardStateAssertions.KeysWithoutTtlAsync(Admin, _statePrefix)).Should().BeEmpty();
    }
}
