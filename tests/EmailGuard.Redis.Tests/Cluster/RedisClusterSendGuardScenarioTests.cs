using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The send guard's incident scenarios on a three-master Redis Cluster. A guard check spans tenant, sender, user,
/// recipient and domain partitions, whose hash tags put them in different slots, so every check here exercises the
/// slot-by-slot reservation and its give-back on denial; the atomicity scenarios prove no counter moves on a denial.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterSendGuardScenarioTests(RedisClusterFixture cluster) : SendGuardScenarioTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly string _statePrefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer Admin => field ??= cluster.CreateMultiplexer();

    protected override IRateLimitStore CreateStore(FakeTimeProvider time) => RedisStoreTestBase.CreateStore(Admin, _prefix, time);

    internal override IEmailGuardStateStore CreateStateStore(FakeTimeProvider time)
        => new RedisEmailGuardStateStore(new RedisConnection(Admin, _statePrefix), time);

    protected override IReadOnlyList<SendGuardHarness> CreateInstances(int count, Action<SendGuardOptions> configure)
    {
        FakeTimeProvider time = new(Start);
        return [.. Enumerable.Range(0, count).Select(_ => Create(configure, time, RedisStoreTestBase.CreateStore(cluster.CreateMultiplexer(), _prefix, time)))];
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(Admin, _prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty("every counter on every master must expire");
    }
}
