using EmailGuard.Redis.Tests.Testing;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The script cache flushed (<c>SCRIPT FLUSH</c>) while a lane has two batches in flight: the server refuses both with
/// <c>NOSCRIPT</c>, which comes before the script runs, and both go again by their text. They must go again in the
/// order they were sent, so that every acquire is still decided at its place in the arrival order. The leader's reply
/// is held at a proxy while the callers queue behind it and the cache is flushed; then it passes, and the lane sends
/// both batches by SHA at once. A third batch waits until both have gone again.
/// </summary>
[Collection(RedisScriptCacheCollection.Name)]
public sealed class RedisScriptFlushInFlightTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TwoBatchesInFlightRefusedWithNoScript_GoAgainInTheirOrder_AndCountOnce(bool useServerTime)
    {
        if (!Redis.CanControlServer)
        {
            return; // Flushing a shared server's script cache would disturb other suites.
        }

        await using DelayingRedisProxy proxy = DelayingRedisProxy.Start(Redis);
        using ConnectionMultiplexer throughProxy = proxy.Connect(Redis);
        IServer server = Admin.GetServers()[0];

        // The reordering this pins is a race between the two recoveries, so the scenario runs several rounds.
        for (int round = 0; round < 8; round++)
        {
            RedisRateLimitStore store = CreateStore(
                throughProxy, $"{Prefix}round-{round}:", useServerTime ? TimeProvider.System : Time, useServerTime, overLimitCacheMaxAge: TimeSpan.Zero, maxQueueWait: s_bound);
            RedisScriptBatcher batcher = store.Batcher!;

            // 600 callers behind a leader: the first batch takes 256, the second 256, and the other 88 wait for a
            // third, which must not go out before the second has gone again. The shared counter has room for the
            // leader, the first batch and the first 43 of the second.
            const int Queued = 600;
            const int Room = 300;
            RateLimitRule shared = RateLimitRule.FixedWindow(Room, TimeSpan.FromDays(300));
            RateLimitRule own = RateLimitRule.FixedWindow(5, TimeSpan.FromDays(300));
            RateLimitRequest[] Request(int i) => [new($"own-{i}", own), new("shared", shared)];
            (await store.AcquireAsync(new[] { new RateLimitRequest("warm-up", own), new RateLimitRequest("warm-up-2", own) }, default)).IsAllowed.Should().BeTrue();
            await throughProxy.GetDatabase().PingAsync();
            long batches = batcher.BatchesSent;

            Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] calls = await HeldLeader.QueueBehindAsync(proxy, store, Queued, Request);
            await server.ScriptFlushAsync();
            proxy.ReleaseReplies();

            (RateLimitDecision Decision, RateLimitEntry[] Entries)[] outcomes = await Task.WhenAll(calls).WaitAsync(s_bound);
            int[] outOfOrder = [.. Enumerable.Range(0, 1 + Queued).Where(i => outcomes[i].Decision.IsAllowed != i < Room)];
            outOfOrder.Should().BeEmpty("round {0}: the first {1} acquires in arrival order are admitted, and only they", round, Room);
            RateLimitRequest[] peeks = [new("shared", shared), .. Enumerable.Range(0, 1 + Queued).Select(i => new RateLimitRequest($"own-{i}", own))];
            RateLimitEntry[] counted = new RateLimitEntry[peeks.Length];
            await store.PeekAsync(peeks, counted);
            counted[0].Count.Should().Be(Room, "round {0}: no batch counted twice, none lost", round);
            Enumerable.Range(0, 1 + Queued).Where(i => counted[1 + i].Count != (i < Room ? 1 : 0)).Should().BeEmpty("round {0}: all or nothing, once", round);
            Enumerable.Range(0, 1 + Queued).Where(i => outcomes[i].Entries[1].Count != (i < Room ? i + 1 : Room))
                .Should().BeEmpty("round {0}: each caller saw the shared count of its place in the order", round);
            (batcher.BatchesSent - batches).Should().Be(3, "round {0}: the callers went as three batches", round);
        }
    }
}
