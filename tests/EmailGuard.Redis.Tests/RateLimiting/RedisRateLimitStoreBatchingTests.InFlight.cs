using EmailGuard.Redis.Tests.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// A lane keeps a second batch in flight while the first is: the client and the server no longer take turns. The
/// second batch runs after the first on the node's one connection, so its members are decided after the first's, in
/// arrival order. The replies are held back by a proxy (the server has decided, the client has not heard), so what
/// went out while the first batch was in flight is seen without depending on timing.
/// </summary>
public partial class RedisRateLimitStoreBatchingTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_ASecondBatchGoesOutWhileTheFirstIsInFlight_AndIsDecidedAfterIt(bool useServerTime)
    {
        await using DelayingRedisProxy proxy = DelayingRedisProxy.Start(Redis);
        using ConnectionMultiplexer throughProxy = proxy.Connect(Redis);
        for (int attempt = 1; ; attempt++)
        {
            // The premise: the leader's reply is the one the proxy passes. A reply of the connection's own (a late
            // handshake, a periodic check) held before it is passed in its place, and the leader's reply is then held
            // with the batches'; the leader is never answered, nothing is sent, and the attempt runs again.
            if (await SecondBatchScenarioAsync(proxy, throughProxy, useServerTime, $"{Prefix}attempt-{attempt}:", lastAttempt: attempt == 3))
            {
                return;
            }

            output.WriteLine($"Attempt {attempt}: the proxy passed another reply than the leader's, so the scenario did not happen; again.");
        }
    }

    private async Task<bool> SecondBatchScenarioAsync(
        DelayingRedisProxy proxy, ConnectionMultiplexer throughProxy, bool useServerTime, string prefix, bool lastAttempt)
    {
        RedisRateLimitStore store = CreateStore(
            throughProxy, prefix, useServerTime ? TimeProvider.System : Time, useServerTime, overLimitCacheMaxAge: TimeSpan.Zero, maxQueueWait: TimeSpan.FromSeconds(60));
        RedisScriptBatcher batcher = store.Batcher!;

        // 300 callers behind a leader: the first batch takes the most a batch holds (256), the second the other 43.
        // The shared counter has room for the leader, the first batch and one more: the first caller of the second
        // batch, which is decided after the whole first batch although both were sent before either was answered.
        const int Queued = 299;
        int room = 1 + RedisScriptBatcher.MaxMembers + 1;
        RateLimitRule shared = RateLimitRule.FixedWindow(room, TimeSpan.FromDays(300));
        RateLimitRule own = RateLimitRule.FixedWindow(5, TimeSpan.FromDays(300));
        RateLimitRequest[] Request(int i) => [new($"own-{i}", own), new("shared", shared)];
        (await store.PeekAsync(new[] { new RateLimitRequest("warm-up", own) }, default)).IsAllowed.Should().BeTrue();
        (await store.AcquireAsync(new[] { new RateLimitRequest("warm-up", own), new RateLimitRequest("warm-up-2", own) }, default)).IsAllowed.Should().BeTrue();
        await throughProxy.GetDatabase().PingAsync();
        await throughProxy.GetSubscriber().PingAsync();
        long batches = batcher.BatchesSent;

        Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] calls = await HeldLeader.QueueBehindAsync(proxy, store, Queued, Request);
        batcher.BatchesSent.Should().Be(batches, "nothing goes out until the leader is answered");

        // The leader's reply passes, and every later reply is held: the lane sends its first batch, and, while that
        // one's reply is held, its second.
        if (!await HeldLeader.PassLeadersReplyAsync(proxy, calls, lastAttempt))
        {
            return false;
        }

        (await HeldLeader.WaitUntilAsync(() => batcher.BatchesSent - batches == 2)).Should().BeTrue("the second batch goes out while the first is in flight");
        calls.Skip(1).Should().OnlyContain(c => !c.IsCompleted, "neither batch has been answered");
        batcher.QueuedCount.Should().Be(0);
        (batcher.BatchesSent - batches).Should().Be(2, "no more than two batches of a lane are in flight");

        proxy.ReleaseReplies();
        (RateLimitDecision Decision, RateLimitEntry[] Entries)[] outcomes = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        for (int i = 0; i <= Queued; i++)
        {
            bool admitted = i < room;
            outcomes[i].Decision.IsAllowed.Should().Be(admitted, "caller {0} in arrival order, with room for {1}", i, room);
            outcomes[i].Entries[1].Count.Should().Be(admitted ? i + 1 : room, "the shared count caller {0} saw", i);
            outcomes[i].Entries[0].Count.Should().Be(admitted ? 1 : 0, "caller {0} took all or nothing", i);
        }

        (await LanesAfterLastBatchAsync(batcher)).Should().Be(0, "a lane lives only while a script of its node is in flight");
        return true;
    }
}
