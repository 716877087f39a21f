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

    private RedisRateLimitStore CreateStore(FakeLogger<RedisRateLimitStore>? logger = null, ConnectionMultiplexer? multiplexer = null)
        => RedisStoreTestBase.CreateStore(multiplexer ?? Cluster.CreateMultiplexer(), Prefix, Time, useServerTime: false, logger);
}
