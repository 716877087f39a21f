using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Stores;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// The LocalFallback bound of docs/resilience.md, on one real Redis shared by N simulated app instances: separate
/// resilience wrappers, each with its own failure switch, over the same counters. During an outage the instances
/// together admit at most the limit less what they heard the store count; after it, at most the local admits that
/// other instances had not yet written back come on top; for limits smaller and larger than N.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class LocalFallbackBoundTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    public static TheoryData<long, int, bool> Shapes => new()
    {
        { 1, 3, false },
        { 2, 5, false },
        { 1, 3, true },
        { 2, 5, true },
        { 10, 3, false },
        { 10, 3, true },
        { 10, 2, false },
        { 100, 7, true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task OutageForTheWholeWindow_InstancesTogetherAdmitTheirShares_NeverMoreThanTheLimit(long limit, int instances, bool indexed)
    {
        Instance[] all = CreateInstances(instances, indexed);
        RateLimitRule rule = RateLimitRule.PerHour(limit);
        long floorShares = limit / instances * instances;
        SetDown(all, true);

        // Several partitions: with an index, each partition hands its remainder to other instances.
        List<long> totals = [];
        for (int p = 0; p < 5; p++)
        {
            totals.Add(await RoundRobinAsync(all, $"outage-{p}", rule, attempts: (int)limit * 3 + 10));
        }

        totals.Should().AllBeEquivalentTo(indexed ? limit : floorShares, "shares add up to the limit with an index, to floor(L/N)·N without");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task LocalAdmitsThenRecovery_TheStoreAdmitsOnlyWhatIsLeft_TotalIsTheLimitExactly(long limit, int instances, bool indexed)
    {
        // Arrange: every instance cut off from the window's start: they admit locally.
        Instance[] all = CreateInstances(instances, indexed);
        RateLimitRule rule = RateLimitRule.PerHour(limit);
        const string key = "after";
        SetDown(all, true);

        long[] localEach = await RoundRobinEachAsync(all, key, rule, attempts: (int)limit * 3 + 10);
        long local = localEach.Sum();

        // Act: the store is back for everyone; the same callers keep trying.
        SetDown(all, false);

        long shared = await RoundRobinAsync(all, key, rule, attempts: (int)limit * 3 + 10);

        // Assert: the documented bound. Each instance writes its own local admits back before the store decides for
        // it again; the first instance back can be admitted before the others have written theirs back.
        local.Should().BeLessThanOrEqualTo(limit);
        (local + shared).Should().BeGreaterThanOrEqualTo(limit).And.BeLessThanOrEqualTo(limit + localEach.Skip(1).Sum());
        (await CountAsync(key, rule)).Should().Be(limit, "the write-backs fill the store to the limit: it admits nothing more in this window");
    }

    [Theory]
    [InlineData(10, 2, 10)]
    [InlineData(10, 2, 4)]
    [InlineData(10, 3, 1)]
    [InlineData(2, 3, 1)]
    public async Task StoreCountedThenOutageThenRecovery_OneWindowIsNeverSpentTwice(long limit, int instances, int beforeOutage)
    {
        // Arrange: the store admits some permits first, every instance taking its turn and hearing the count.
        Instance[] all = CreateInstances(instances, indexed: false);
        RateLimitRule rule = RateLimitRule.PerHour(limit);
        const string key = "before";
        long admitted = 0;
        for (int i = 0; i < beforeOutage; i++)
        {
            admitted += await AdmitAsync(all[i % all.Length], key, rule) ? 1 : 0;
        }

        // Act: an outage, then recovery.
        SetDown(all, true);

        long[] localEach = await RoundRobinEachAsync(all, key, rule, attempts: (int)limit * 3 + 10);
        long local = localEach.Sum();
        SetDown(all, false);

        long after = await RoundRobinAsync(all, key, rule, attempts: (int)limit * 3 + 10);

        // Assert
        admitted.Should().Be(Math.Min(beforeOutage, limit));
        (admitted + local).Should().BeLessThanOrEqualTo(limit, "each instance counts its local admits against its share less the count it heard");
        (admitted + local + after).Should().BeGreaterThanOrEqualTo(limit).And.BeLessThanOrEqualTo(limit + localEach.Skip(1).Sum());
        (await CountAsync(key, rule)).Should().Be(limit);
    }

    [Fact]
    public async Task LocalAdmitsOfAnEndedWindow_AreNotWrittenBack()
    {
        Instance[] all = CreateInstances(2, indexed: false);
        RateLimitRule rule = RateLimitRule.PerHour(10);
        all[0].Switch.Down = true;
        long local = await RoundRobinAsync([all[0]], "rolled", rule, attempts: 10);
        Time.Advance(TimeSpan.FromHours(1));
        all[0].Switch.Down = false;
        Time.Advance(TimeSpan.FromMilliseconds(1));

        long next = await RoundRobinAsync(all, "rolled", rule, attempts: 30);

        local.Should().Be(5);
        next.Should().Be(10, "the new window owes nothing to the last one");
    }

    /// <summary>Cuts every instance off, or lets every one reach the store again (the next call of each probes it).</summary>
    private void SetDown(Instance[] all, bool down)
    {
        foreach (Instance instance in all)
        {
            instance.Switch.Down = down;
        }

        if (!down)
        {
            Time.Advance(TimeSpan.FromMilliseconds(1));
        }
    }

    private Instance[] CreateInstances(int count, bool indexed)
        => [.. Enumerable.Range(0, count).Select(i =>
        {
            SwitchableRateLimitStore shared = new(CreateStore());
            StoreResilienceOptions options = new()
            {
                InstanceCount = count,
                InstanceIndex = indexed ? i : null,
                // The first failure opens the circuit; Recover lets the next call probe the store.
                ConsecutiveFailureThreshold = 1,
                BreakDuration = TimeSpan.FromMilliseconds(1),
                Timeout = TimeSpan.FromSeconds(5),
            };
            return new Instance(new ResilientRateLimitStore(shared, options, Time), shared);
        })];

    private static async Task<bool> AdmitAsync(Instance instance, string key, RateLimitRule rule)
    {
        RateLimitDecision decision = await instance.Wrapper.AcquireAsync(
            new[] { new RateLimitRequest(key, rule) }, new RateLimitEntry[1], StoreFailureMode.LocalFallback);
        await instance.Wrapper.WriteBack;
        return decision.Status == RateLimitStatus.Allowed;
    }

    private static async Task<long> RoundRobinAsync(Instance[] instances, string key, RateLimitRule rule, int attempts)
        => (await RoundRobinEachAsync(instances, key, rule, attempts)).Sum();

    private static async Task<long[]> RoundRobinEachAsync(Instance[] instances, string key, RateLimitRule rule, int attempts)
    {
        long[] admitted = new long[instances.Length];
        for (int i = 0; i < attempts; i++)
        {
            admitted[i % instances.Length] += await AdmitAsync(instances[i % instances.Length], key, rule) ? 1 : 0;
        }

        return admitted;
    }

    private async Task<long> CountAsync(string key, RateLimitRule rule)
    {
        RateLimitEntry[] entry = new RateLimitEntry[1];
        await CreateStore().PeekAsync(new[] { new RateLimitRequest(key, rule, 0) }, entry);
        return entry[0].Count;
    }

    private sealed record Instance(ResilientRateLimitStore Wrapper, SwitchableRateLimitStore Switch);
}
