using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// A reservation costs one round trip on Redis, as an acquire does: every command the client sends is recorded by a
/// StackExchange.Redis profiling session on the test's own multiplexer, and each reserve, waiting or not, is one script.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisReservationRoundTripTests(RedisServerFixture redis)
{
    private static readonly RateLimitRule Bucket = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 1);
    private static readonly RateLimitRule Window = RateLimitRule.PerHour(RateLimitRule.MaxLimit);

    [Fact]
    public async Task Reserve_ThatWaits_SendsOneCommandPerCall_AsAnAcquireDoes()
    {
        await using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        string prefix = RedisServerFixture.UniquePrefix();
        using RedisConnection connection = new(multiplexer, prefix);
        RedisRateLimitStore store = new(connection, new RedisRateLimitStoreOptions { KeyPrefix = prefix, UseServerTime = false }, TimeProvider.System);
        RateLimitRequest[] reserve = [new("provider", Bucket), new("account", Window)];
        RateLimitRequest[] acquire = [new("tenant", Window), new("account", Window)];
        RateLimitEntry[] results = new RateLimitEntry[2];
        (await store.ReserveAsync(reserve, TimeSpan.FromMinutes(5), results)).IsAllowed.Should().BeTrue("the warm-up loads the scripts");
        (await store.AcquireAsync(acquire, results)).IsAllowed.Should().BeTrue();

        (List<IProfiledCommand> reserved, DateTimeOffset last) = await ProfileAsync(multiplexer, async () =>
        {
            DateTimeOffset at = default;
            for (int i = 0; i < 50; i++)
            {
                RateLimitDecision decision = await store.ReserveAsync(reserve, TimeSpan.FromMinutes(5), results);
                decision.IsAllowed.Should().BeTrue();
                at = decision.Timestamp;
            }

            return at;
        });
        (List<IProfiledCommand> acquired, _) = await ProfileAsync(multiplexer, async () =>
        {
            for (int i = 0; i < 50; i++)
            {
                (await store.AcquireAsync(acquire, results)).IsAllowed.Should().BeTrue();
            }

            return DateTimeOffset.MinValue;
        });

        reserved.Select(c => c.Command).Should().HaveCount(50).And.OnlyContain(c => c == "EVALSHA", "one script call per reservation, no retry, no second read");
        acquired.Should().HaveCount(50);
        (last - DateTimeOffset.UtcNow).Should().BePositive("the 51st reservation of a 10-a-second bucket with a burst of 1 waits about 5 s, so the reserve path ran");
    }

    [Fact]
    public async Task GuardReserve_WithoutFeedback_OneCommand_AndTheCallerWaitsForOneRoundTripWithIt()
    {
        await using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        string prefix = RedisServerFixture.UniquePrefix();
        using RedisConnection connection = new(multiplexer, prefix);
        RedisRateLimitStore store = new(connection, new RedisRateLimitStoreOptions { KeyPrefix = prefix, UseServerTime = false }, TimeProvider.System);
        SendGuardOptions options = new() { MaxReservationWait = TimeSpan.FromMinutes(5) };
        options.Global.Add(Bucket);
        options.Tenant.Add(Window);
        options.Recipient.Add(Window);
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        EmailSendGuard guard = new(
            wrapped,
            new ResilientRateLimitStore(store, new StoreResilienceOptions(), TimeProvider.System),
            new GuardStateCache(new InMemoryEmailGuardStateStore(TimeProvider.System), wrapped, TimeProvider.System),
            TimeProvider.System);
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme" };
        (await guard.ReserveAsync(message)).IsAllowed.Should().BeTrue();

        (List<IProfiledCommand> sent, _) = await ProfileAsync(multiplexer, async () =>
        {
            for (int i = 0; i < 50; i++)
            {
                (await guard.ReserveAsync(message)).IsAllowed.Should().BeTrue();
            }

            return DateTimeOffset.MinValue;
        });

        sent.Select(c => c.Command).Should().HaveCount(50).And.OnlyContain(c => c == "EVALSHA");
    }

    [Fact]
    public async Task GuardReserve_WithFeedback_OneCommandCountsTheSend_AndARefundGivesItBack()
    {
        // Arrange: as AddEmailGuard() registers it, every admitted send is also counted for the ratio breakers.
        await using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        string prefix = RedisServerFixture.UniquePrefix();
        using RedisConnection connection = new(multiplexer, prefix);
        RedisRateLimitStore store = new(connection, new RedisRateLimitStoreOptions { KeyPrefix = prefix, UseServerTime = false }, TimeProvider.System);
        SendGuardOptions options = new() { MaxReservationWait = TimeSpan.FromMinutes(5) };
        options.Global.Add(Bucket);
        options.Tenant.Add(Window);
        options.Recipient.Add(Window);
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), TimeProvider.System);
        EmailGuardFeedback feedback = new(
            resilient,
            new ResilientKeyValueStore(new InMemoryKeyValueStore(1_000, TimeProvider.System), new StoreResilienceOptions(), TimeProvider.System),
            null,
            new EmailFeedbackOptions(),
            options,
            TimeProvider.System);
        EmailSendGuard guard = new(
            wrapped, resilient, new GuardStateCache(new InMemoryEmailGuardStateStore(TimeProvider.System), wrapped, TimeProvider.System), TimeProvider.System)
        {
            Sends = feedback,
        };
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme" };
        (await guard.ReserveAsync(message)).IsAllowed.Should().BeTrue("the warm-up loads the scripts");

        // Act
        (List<IProfiledCommand> sent, EmailSendDecision last) = await ProfileAsync(multiplexer, async () =>
        {
            EmailSendDecision decision = default;
            for (int i = 0; i < 50; i++)
            {
                decision = await guard.ReserveAsync(message);
                decision.IsAllowed.Should().BeTrue();
            }

            return decision;
        });
        await store.SettledAsync();
        long counted = (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;
        bool refunded = await guard.RefundAsync(last);
        long afterRefund = (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;

        // Assert
        sent.Select(c => c.Command).Should().HaveCount(50).And.OnlyContain(c => c == "EVALSHA", "the send is counted in the reservation's own script");
        (last.SendAt!.Value - DateTimeOffset.UtcNow).Should().BePositive("the 51st reservation waits about 5 s for the bucket, so the reserve path ran");
        counted.Should().Be(51);
        refunded.Should().BeTrue();
        afterRefund.Should().Be(50, "the refund gave the send count back with the slot");
    }

    private static async Task<(List<IProfiledCommand> Commands, T Result)> ProfileAsync<T>(ConnectionMultiplexer multiplexer, Func<Task<T>> calls)
    {
        ProfilingSession session = new();
        multiplexer.RegisterProfiler(() => session);
        T result = await calls();
        multiplexer.RegisterProfiler(() => null);
        return ([.. session.FinishProfiling()], result);
    }
}
