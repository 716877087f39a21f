using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Reservations on a cluster whose counters (window rules with limit <see cref="RateLimitRule.MaxLimit"/>) lie in other
/// slots than the rules that can deny: the constrained slot is reserved ahead, then the counters counted at the
/// decision's time; a lost count never costs the reservation.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterReservationCounterTests(RedisClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    /// <summary>10 per second, burst 1: emptied, the next permit is 100 ms ahead.</summary>
    private static readonly RateLimitRule s_bucket = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 1);

    /// <summary>A counter in 100-ms segments: the reserved time lies in the next one.</summary>
    private static readonly RateLimitRule s_counter = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromSeconds(1), 10);

    [Fact]
    public async Task ReserveAsync_CounterInAnotherSlot_ReservesAheadCountsNowAndRefundsIt()
    {
        // Arrange
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time);
        RateLimitRequest[] requests = [new("provider", s_bucket), new("sends:a", s_counter, 2), new("sends:b", s_counter, 3)];
        (await DifferentSlotsAsync(store, requests)).Should().BeTrue();
        await store.AcquireAsync(new[] { new RateLimitRequest("provider", s_bucket) }, Memory<RateLimitEntry>.Empty);

        // Act
        RateLimitEntry[] entries = new RateLimitEntry[3];
        RateLimitDecision reserved = await store.ReserveAsync(requests, TimeSpan.FromSeconds(1), entries);
        long[] counted = await CountsAsync(store);
        Time.Advance(TimeSpan.FromMilliseconds(100));
        bool refunded = await store.RefundAsync(requests, reserved);
        long[] afterRefund = await CountsAsync(store);
        RateLimitDecision again = await store.ReserveAsync(requests[..1], TimeSpan.FromSeconds(1), Memory<RateLimitEntry>.Empty);

        // Assert
        reserved.IsAllowed.Should().BeTrue();
        reserved.Timestamp.Should().Be(Time.GetUtcNow(), "reserved 100 ms ahead, which is now");
        reserved.DecidedAt.Should().Be(Time.GetUtcNow().AddMilliseconds(-100));
        entries[1].Count.Should().Be(2);
        entries[2].Count.Should().Be(3);
        counted.Should().Equal(2, 3);
        refunded.Should().BeTrue();
        afterRefund.Should().Equal(0, 0);
        again.Timestamp.Should().Be(Time.GetUtcNow(), "the refund gave the bucket's slot back");
    }

    [Fact]
    public async Task ReserveAsync_DeniedWithCounterInAnotherSlot_CountsNothing()
    {
        // Arrange
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time);
        RateLimitRequest[] requests = [new("provider", s_bucket), new("sends:a", s_counter, 2), new("sends:b", s_counter, 3)];
        await store.AcquireAsync(new[] { new RateLimitRequest("provider", s_bucket) }, Memory<RateLimitEntry>.Empty);

        // Act
        RateLimitEntry[] entries = new RateLimitEntry[3];
        RateLimitDecision denied = await store.ReserveAsync(requests, TimeSpan.FromMilliseconds(50), entries);

        // Assert
        denied.IsAllowed.Should().BeFalse();
        denied.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(100));
        entries[1].Should().Be(new RateLimitEntry(true, 0, RateLimitRule.MaxLimit, TimeSpan.Zero, Time.GetUtcNow()));
        (await CountsAsync(store)).Should().Equal(0, 0);
    }

    [Fact]
    public async Task ReserveAsync_DeniedAndACounterSlotCannotBeRead_LogsAndDenies()
    {
        // Arrange: the bucket is empty, so the reservation is denied; then the counters' slots are read only to fill the
        // denial's entries, and one counter's key holds a string, so that read fails as a dead master's would.
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time, logger: logger);
        RateLimitRequest[] requests = [new("provider", s_bucket), new("sends:a", s_counter, 2), new("sends:b", s_counter, 3)];
        await store.AcquireAsync(new[] { new RateLimitRequest("provider", s_bucket) }, Memory<RateLimitEntry>.Empty);
        string broken = store.CounterKey("sends:a", s_counter);
        await Admin.GetDatabase().StringSetAsync(broken, "not a hash", TimeSpan.FromSeconds(30));

        // Act
        RateLimitDecision denied = await store.ReserveAsync(requests, TimeSpan.FromMilliseconds(50), new RateLimitEntry[3]);

        // Assert
        denied.Status.Should().Be(RateLimitStatus.LimitExceeded, "Redis denied it; a read that only fills the denial's entries must not turn it into a store failure, which fail-open admits");
        denied.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(100));
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2850);
        await Admin.GetDatabase().KeyDeleteAsync(broken);
    }

    [Fact]
    public async Task ReserveAsync_CountingFailsAfterTheReservation_ReservationStandsAndTheLossIsLogged()
    {
        // Arrange: one counter's key holds a string, so its slot's script fails.
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time, logger: logger);
        RateLimitRequest[] requests = [new("provider", s_bucket), new("sends:a", s_counter, 2), new("sends:b", s_counter, 3)];
        string broken = store.CounterKey("sends:a", s_counter);
        await Admin.GetDatabase().StringSetAsync(broken, "not a hash", TimeSpan.FromSeconds(30));

        // Act
        RateLimitEntry[] entries = new RateLimitEntry[3];
        RateLimitDecision reserved = await store.ReserveAsync(requests, TimeSpan.FromSeconds(1), entries);

        // Assert
        reserved.IsAllowed.Should().BeTrue();
        entries[1].IsAllowed.Should().BeTrue();
        entries[2].Count.Should().Be(3, "the other counter's slot was counted");
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2700);
        await Admin.GetDatabase().KeyDeleteAsync(broken);
    }

    [Fact]
    public async Task ReserveAsync_ConstrainedRulesInSeveralSlots_ReservesNowOrDenies_AndCountsOnlyTheAdmitted()
    {
        // Arrange: the bucket and the tenant's window lie in two slots, so the reservation is for now or not at all.
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time);
        RateLimitRequest[] requests = [new("provider", s_bucket), new("tenant:a", RateLimitRule.PerHour(100)), new("sends:a", s_counter, 2), new("sends:b", s_counter, 3)];
        (await DifferentSlotsAsync(store, requests)).Should().BeTrue();

        // Act
        RateLimitEntry[] entries = new RateLimitEntry[4];
        RateLimitDecision now = await store.ReserveAsync(requests, TimeSpan.FromSeconds(1), entries);
        long[] counted = await CountsAsync(store);
        RateLimitDecision denied = await store.ReserveAsync(requests, TimeSpan.FromSeconds(1), Memory<RateLimitEntry>.Empty);
        long[] afterDenial = await CountsAsync(store);

        // Assert
        now.Timestamp.Should().Be(Time.GetUtcNow());
        entries[2].Count.Should().Be(2);
        entries[3].Count.Should().Be(3);
        counted.Should().Equal(2, 3);
        denied.IsAllowed.Should().BeFalse("across slots the bucket's slot cannot be promised ahead");
        afterDenial.Should().Equal(2, 3);
    }

    [Fact]
    public async Task GuardReserve_WithFeedback_ReservesAheadAndCountsTheSendInItsSlots()
    {
        // Arrange: the provider's bucket is the only rule that can deny; the send counters lie in other slots.
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time);
        SendGuardOptions options = new() { MaxReservationWait = TimeSpan.FromMinutes(1) };
        options.Global.Add(s_bucket);
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), Time);
        EmailGuardFeedback feedback = new(
            resilient,
            new ResilientKeyValueStore(new InMemoryKeyValueStore(1_000, Time), new StoreResilienceOptions(), Time),
            null,
            new EmailFeedbackOptions(),
            options,
            Time);
        EmailSendGuard guard = new(wrapped, resilient, new GuardStateCache(new InMemoryEmailGuardStateStore(Time), wrapped, Time), Time) { Sends = feedback };
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme" };

        // Act
        EmailSendDecision now = await guard.ReserveAsync(message);
        EmailSendDecision ahead = await guard.ReserveAsync(message);
        long counted = (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;
        long all = (await feedback.GetAsync(EmailGuardDimension.Global, null)).Sends;
        bool refunded = await guard.RefundAsync(ahead);
        long afterRefund = (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;

        // Assert
        now.SendAt.Should().Be(Time.GetUtcNow());
        ahead.SendAt.Should().Be(Time.GetUtcNow().AddMilliseconds(100), "the bucket's slot is one slot, reserved ahead; the counters only count");
        counted.Should().Be(2);
        all.Should().Be(2);
        refunded.Should().BeTrue();
        afterRefund.Should().Be(1);
    }

    private static async Task<bool> DifferentSlotsAsync(RedisRateLimitStore store, RateLimitRequest[] requests)
    {
        IConnectionMultiplexer multiplexer = await store.Connection.GetMultiplexerAsync();
        int[] slots = [.. requests.Select(r => multiplexer.HashSlot(store.CounterKey(r.Key, r.Rule)))];
        return slots.Distinct().Count() == slots.Length;
    }

    private static async Task<long[]> CountsAsync(RedisRateLimitStore store)
    {
        RateLimitEntry[] entries = new RateLimitEntry[2];
        await store.PeekAsync(new[] { new RateLimitRequest("sends:a", s_counter, 0), new RateLimitRequest("sends:b", s_counter, 0) }, entries);
        return [entries[0].Count, entries[1].Count];
    }
}
