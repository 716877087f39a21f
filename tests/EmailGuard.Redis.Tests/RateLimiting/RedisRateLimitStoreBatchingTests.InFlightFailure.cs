using EmailGuard.Redis.Tests.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The connection dropped while a lane has two batches in flight, both run by the server (their replies held at a
/// proxy, which then goes away): each batch fails as a whole, each member as its own call would (sent, so it may have
/// run), every caller is answered, nothing is sent again (no counter moves twice), and the lane closes.
/// </summary>
public partial class RedisRateLimitStoreBatchingTests
{
    [Fact]
    public async Task AcquireAsync_ConnectionDroppedWithTwoBatchesInFlight_EveryCallerAnswered_NothingSentTwice_LaneCloses()
    {
        for (int attempt = 1; ; attempt++)
        {
            if (await DroppedConnectionScenarioAsync($"{Prefix}attempt-{attempt}:", lastAttempt: attempt == 3))
            {
                return;
            }

            output.WriteLine($"Attempt {attempt}: the proxy passed another reply than the leader's, so the scenario did not happen; again.");
        }
    }

    private async Task<bool> DroppedConnectionScenarioAsync(string prefix, bool lastAttempt)
    {
        DelayingRedisProxy proxy = DelayingRedisProxy.Start(Redis);
        bool disposed = false;
        try
        {
            using ConnectionMultiplexer throughProxy = proxy.Connect(Redis);
            RedisRateLimitStore store = CreateStore(throughProxy, prefix, Time, useServerTime: false, overLimitCacheMaxAge: TimeSpan.Zero, maxQueueWait: TimeSpan.FromSeconds(60));
            RedisRateLimitStore reader = CreateStore(Admin, prefix, Time, useServerTime: false);
            RedisScriptBatcher batcher = store.Batcher!;
            const int Queued = 299;
            const int Late = 32;
            const int Room = 1 + RedisScriptBatcher.MaxMembers + 1;
            RateLimitRule shared = RateLimitRule.FixedWindow(Room, TimeSpan.FromDays(300));
            RateLimitRule own = RateLimitRule.FixedWindow(5, TimeSpan.FromDays(300));
            RateLimitRequest[] Request(string name) => [new(name, own), new("shared", shared)];
            (await store.AcquireAsync(new[] { new RateLimitRequest("warm-up", own), new RateLimitRequest("warm-up-2", own) }, default)).IsAllowed.Should().BeTrue();
            await throughProxy.GetDatabase().PingAsync();
            await throughProxy.GetSubscriber().PingAsync();
            long batches = batcher.BatchesSent;

            // The leader's reply is held while 299 callers queue; it passes, the lane sends its two batches, the server
            // runs both (the second batch's first member, the last admitted, shows it) and their replies are held.
            Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] calls = await HeldLeader.QueueBehindAsync(proxy, store, Queued, i => Request($"own-{i}"));
            if (!await HeldLeader.PassLeadersReplyAsync(proxy, calls, lastAttempt))
            {
                return false;
            }

            (await HeldLeader.WaitUntilAsync(() => batcher.BatchesSent - batches == 2)).Should().BeTrue("both batches go out");
            for (DateTime until = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < until && await PeekCountAsync(reader, [new($"own-{Room - 1}", own)]) == 0;)
            {
                await Task.Delay(10);
            }

            (await PeekCountAsync(reader, [new($"own-{Room - 1}", own)])).Should().Be(1, "the server ran the second batch");
            Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] late = [.. Enumerable.Range(0, Late).Select(j => HeldLeader.AcquireAsync(store, Request($"late-{j}"), default))];
            (await HeldLeader.WaitUntilAsync(() => batcher.QueuedCount == Late)).Should().BeTrue("later callers queue behind the two batches in flight");

            // Act: the connection drops with both replies unread.
            disposed = true;
            await proxy.DisposeAsync();

            // Assert: every caller is answered, each queued one by its own batch's failure, none by a decision it did not get.
            await Task.WhenAll(calls.Skip(1).Concat(late).Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(90));
            calls.Skip(1).Should().OnlyContain(c => c.IsFaulted, "both batches failed as a whole, their replies never read");
            late.Should().OnlyContain(c => c.IsFaulted, "the connection is gone");
            RateLimitRequest[] peeks = [new("shared", shared), .. Enumerable.Range(0, 1 + Queued).Select(i => new RateLimitRequest($"own-{i}", own))];
            RateLimitEntry[] counted = new RateLimitEntry[peeks.Length];
            await reader.PeekAsync(peeks, counted);
            counted[0].Count.Should().Be(Room, "each batch ran once on the server; a failed batch is not sent again");
            Enumerable.Range(0, 1 + Queued).Where(i => counted[1 + i].Count != (i < Room ? 1 : 0)).Should().BeEmpty("all or nothing, once");
            (await LanesAfterLastBatchAsync(batcher)).Should().Be(0, "a lane closes when nothing waits and nothing is in flight");
            return true;
        }
        finally
        {
            if (!disposed)
            {
                await proxy.DisposeAsync();
            }
        }
    }
}
