using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Refunds of a decision across hash slots: given back slot by slot, each slot once, and a refund refused in a later
/// slot leaves the earlier slots given back and can be repeated for the rest.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterRefundTests(RedisClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    private const int Copies = 64;

    /// <summary>Decisions refunded by the copies, one after the other: a race lost once is not a race won.</summary>
    private const int Rounds = 8;

    private static readonly RateLimitRule s_rule = RateLimitRule.FixedWindow(20, TimeSpan.FromMinutes(10));

    [Theory]
    [InlineData("0.5")]
    [InlineData("abc")]
    public async Task RefundAsync_LaterSlotHoldsANonInteger_EarlierSlotGivenBackOnce_TheRepeatAfterTheRepairGivesBackTheRest(string planted)
    {
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = CreateStore(logger);
        (string low, string high) = TwoKeysInAscendingSlots(store, s_rule);
        RateLimitRequest[] requests = [new(low, s_rule, 2), new(high, s_rule, 3)];
        RateLimitDecision admitted = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        await store.AcquireAsync(new[] { new RateLimitRequest(low, s_rule, 4) }, Memory<RateLimitEntry>.Empty);
        string highCounter = store.CounterKey(high, s_rule);
        await Admin.GetDatabase().StringSetAsync(highCounter, planted, expiry: null, keepTtl: true);

        Func<Task> refund = async () => await store.RefundAsync(requests, admitted);

        admitted.IsAllowed.Should().BeTrue();
        await refund.Should().ThrowAsync<RedisServerException>().WithMessage("*does not hold an integer*");
        (await CountAsync(store, low, s_rule)).Should().Be(4, "the earlier slot was given back before the later one refused");
        ((string?)await Admin.GetDatabase().StringGetAsync(highCounter)).Should().Be(planted, "the refused slot wrote nothing");
        logger.Collector.GetSnapshot().Should().Contain(r => r.Id.Id == 2871);

        await Admin.GetDatabase().StringSetAsync(highCounter, "3", expiry: null, keepTtl: true);
        (await store.RefundAsync(requests, admitted)).Should().BeTrue("the repeat gives back the slot the failure left");
        (await CountAsync(store, high, s_rule)).Should().Be(0);
        (await CountAsync(store, low, s_rule)).Should().Be(4, "the earlier slot is given back once, whatever the repeats");
        (await store.RefundAsync(requests, admitted)).Should().BeFalse("a decision is refunded once");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task RefundAsync_64ConcurrentCopiesOfOneDecisionOnEveryMaster_ReportTrueOnce_AndGiveBackOnce(int instances)
    {
        // A decision is a value: copies of it refunded at the same moment, through one store or through several
        // instances, must give its permits back once and say so once. Each slot's marker gave back once, but a copy
        // that claimed the first slot and another that claimed the second both reported true.
        RedisRateLimitStore[] stores = [.. Enumerable.Range(0, instances).Select(_ => CreateStore())];
        string[] partitions = OnePartitionPerMasterInAscendingSlots(stores[0], s_rule);
        RateLimitRequest[] requests = [.. partitions.Select(p => new RateLimitRequest(p, s_rule, 2))];
        for (int round = 0; round < Rounds; round++)
        {
            RateLimitDecision decision = await stores[0].AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
            await stores[0].AcquireAsync(partitions.Select(p => new RateLimitRequest(p, s_rule, 1)).ToArray(), Memory<RateLimitEntry>.Empty);
            TaskCompletionSource start = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Task<bool>[] refunds = [.. Enumerable.Range(0, Copies).Select(i => Task.Run(async () =>
            {
                RateLimitDecision copy = decision;
                await start.Task;
                return await stores[i % instances].RefundAsync(requests, copy);
            }))];

            start.SetResult();
            bool[] reported = await Task.WhenAll(refunds);

            decision.IsAllowed.Should().BeTrue();
            reported.Count(r => r).Should().Be(1, "round {0}: one of {1} copies refunds the decision", round, Copies);
            foreach (string partition in partitions)
            {
                (await CountAsync(stores[0], partition, s_rule)).Should().Be(round + 1, "round {0}: the decision's 2 permits came back once, the other acquires' stay", round);
            }
        }
    }

    [Fact]
    public async Task RefundAsync_ShortestRuleInTheLastSlot_ACopyAfterItsMarkerExpiredIsNotReported()
    {
        // The slot whose marker decides which call reports the refund must be the one whose marker lives longest.
        // Visited last by slot order, the minute's slot decided: once its marker expired (deleted here, as its TTL
        // does a minute after the refund) a late copy claimed it again and reported true while the day still ran.
        RateLimitRule day = RateLimitRule.FixedWindow(20, TimeSpan.FromDays(1));
        RateLimitRule minute = RateLimitRule.FixedWindow(20, TimeSpan.FromMinutes(1));
        RedisRateLimitStore store = CreateStore();
        (string low, string high) = TwoKeysInAscendingSlots(store, s_rule);
        RateLimitRequest[] requests = [new(low, day, 1), new(high, minute, 1)];
        RateLimitDecision admitted = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        RateLimitDecision copy = admitted;

        bool first = await store.RefundAsync(requests, admitted);
        await Admin.GetDatabase().KeyDeleteAsync(RedisCounterKey.RefundMarker(Prefix, high, admitted.AcquisitionId, minute.ShapeId));
        bool late = await store.RefundAsync(requests, copy);

        Admin.HashSlot(store.CounterKey(low, day)).Should().BeLessThan(Admin.HashSlot(store.CounterKey(high, minute)), "the minute's slot is the last");
        first.Should().BeTrue();
        late.Should().BeFalse("the day's marker, which lives as long as any of the decision's windows, says it was refunded");
        (await Admin.GetDatabase().KeyTimeToLiveAsync(RedisCounterKey.RefundMarker(Prefix, low, admitted.AcquisitionId, day.ShapeId)))
            .Should().BeGreaterThan(TimeSpan.FromHours(23));
    }

    private RedisRateLimitStore CreateStore(FakeLogger<RedisRateLimitStore>? logger = null, ConnectionMultiplexer? multiplexer = null)
        => RedisStoreTestBase.CreateStore(multiplexer ?? Cluster.CreateMultiplexer(), Prefix, Time, useServerTime: false, logger);
}
