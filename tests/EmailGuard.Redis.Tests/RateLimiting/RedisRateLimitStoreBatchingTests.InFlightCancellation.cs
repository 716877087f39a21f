using EmailGuard.Redis.Tests.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Callers that cancel while both batches of their lane are in flight (the replies held at a proxy: the server has
/// decided, the client has not heard): each is answered with its cancellation at once, its member stays the lane's until
/// its batch is answered, and what it was admitted is given back. Callers that arrive meanwhile rent members from the
/// same pool: none may be handed a member either holder can still touch, or it would be answered with another's reply.
/// </summary>
public partial class RedisRateLimitStoreBatchingTests
{
    [Fact]
    public async Task AcquireAsync_CallersCancellingWhileTwoBatchesAreInFlight_AnsweredAtOnce_GivenBack_AndNewCallersGetTheirOwnReplies()
    {
        await using DelayingRedisProxy proxy = DelayingRedisProxy.Start(Redis);
        using ConnectionMultiplexer throughProxy = proxy.Connect(Redis);
        for (int attempt = 1; ; attempt++)
        {
            if (await CancellationInFlightScenarioAsync(proxy, throughProxy, $"{Prefix}attempt-{attempt}:", lastAttempt: attempt == 3))
            {
                return;
            }

            output.WriteLine($"Attempt {attempt}: the proxy passed another reply than the leader's, so the scenario did not happen; again.");
        }
    }

    private async Task<bool> CancellationInFlightScenarioAsync(DelayingRedisProxy proxy, ConnectionMultiplexer throughProxy, string prefix, bool lastAttempt)
    {
        RedisRateLimitStore store = CreateStore(throughProxy, prefix, Time, useServerTime: false, overLimitCacheMaxAge: TimeSpan.Zero, maxQueueWait: TimeSpan.FromSeconds(60));
        RedisScriptBatcher batcher = store.Batcher!;

        // As in the test above: a leader, a first batch of 256 and a second of 43, room for the leader, the first batch
        // and the first of the second. Every third caller of both batches cancels once both are in flight.
        const int Queued = 299;
        const int Late = 64;
        int room = 1 + RedisScriptBatcher.MaxMembers + 1;
        RateLimitRule shared = RateLimitRule.FixedWindow(room, TimeSpan.FromDays(300));
        RateLimitRule own = RateLimitRule.FixedWindow(5, TimeSpan.FromDays(300));
        RateLimitRequest[] Request(string name) => [new(name, own), new("shared", shared)];
        bool Cancels(int i) => i > 0 && i % 3 == 0;
        (await store.AcquireAsync(new[] { new RateLimitRequest("warm-up", own), new RateLimitRequest("warm-up-2", own) }, default)).IsAllowed.Should().BeTrue();
        await throughProxy.GetDatabase().PingAsync();
        await throughProxy.GetSubscriber().PingAsync();
        long batches = batcher.BatchesSent;

        CancellationTokenSource[] cancellations = [.. Enumerable.Range(0, 1 + Queued).Select(_ => new CancellationTokenSource())];
        Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] calls = await HeldLeader.QueueBehindAsync(
            proxy, store, Queued, i => Request($"own-{i}"), i => i == 0 ? default : cancellations[i].Token);
        if (!await HeldLeader.PassLeadersReplyAsync(proxy, calls, lastAttempt))
        {
            return false;
        }

        (await HeldLeader.WaitUntilAsync(() => batcher.BatchesSent - batches == 2)).Should().BeTrue("both batches go out");

        // Act: the cancelling callers cancel while both replies are held, so only their cancellation can answer them.
        foreach (int i in Enumerable.Range(1, Queued).Where(Cancels))
        {
            await cancellations[i].CancelAsync();
        }

        await Task.WhenAll(calls.Where((_, i) => Cancels(i)).Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(30));
        calls.Where((_, i) => Cancels(i)).Should().OnlyContain(c => c.IsCanceled, "a cancelled caller is answered at once, with its cancellation");
        calls.Where((c, i) => !Cancels(i) && i > 0).Should().OnlyContain(c => !c.IsCompleted, "neither batch has been answered");

        // New callers rent members while the lane still holds the cancelled callers' ones.
        Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] late = [.. Enumerable.Range(0, Late).Select(j => HeldLeader.AcquireAsync(store, Request($"late-{j}"), default))];
        (await HeldLeader.WaitUntilAsync(() => batcher.QueuedCount == Late)).Should().BeTrue("the new callers queue behind the two batches in flight");
        proxy.ReleaseReplies();

        // Assert
        (RateLimitDecision Decision, RateLimitEntry[] Entries)[] lateOutcomes = await Task.WhenAll(late).WaitAsync(TimeSpan.FromSeconds(30));
        List<int> admitted = [];
        for (int i = 0; i <= Queued; i++)
        {
            if (Cancels(i))
            {
                continue;
            }

            (RateLimitDecision decision, RateLimitEntry[] entries) = await calls[i].WaitAsync(TimeSpan.FromSeconds(30));
            decision.IsAllowed.Should().Be(i < room, "caller {0} in arrival order, with room for {1}", i, room);
            entries[1].Count.Should().Be(i < room ? i + 1 : room, "the shared count caller {0} saw, its own reply", i);
            if (decision.IsAllowed)
            {
                admitted.Add(i);
            }
        }

        for (int j = 0; j < Late; j++)
        {
            lateOutcomes[j].Entries[0].Count.Should().Be(lateOutcomes[j].Decision.IsAllowed ? 1 : 0, "late caller {0} got its own reply", j);
            lateOutcomes[j].Entries[1].Limit.Should().Be(room);
        }

        await store.SettledAsync();
        int lateAdmitted = lateOutcomes.Count(o => o.Decision.IsAllowed);
        RateLimitRequest[] peeks =
        [
            new("shared", shared),
            .. Enumerable.Range(0, 1 + Queued).Select(i => new RateLimitRequest($"own-{i}", own)),
            .. Enumerable.Range(0, Late).Select(j => new RateLimitRequest($"late-{j}", own)),
        ];
        RateLimitEntry[] counted = new RateLimitEntry[peeks.Length];
        await store.PeekAsync(peeks, counted);
        counted[0].Count.Should().Be(admitted.Count + lateAdmitted, "what the cancelled callers were admitted was given back, and only that");
        Enumerable.Range(0, 1 + Queued).Where(i => counted[1 + i].Count != (admitted.Contains(i) ? 1 : 0)).Should().BeEmpty("each counter holds what its caller was told");
        Enumerable.Range(0, Late).Where(j => counted[2 + Queued + j].Count != (lateOutcomes[j].Decision.IsAllowed ? 1 : 0)).Should().BeEmpty();
        (await LanesAfterLastBatchAsync(batcher)).Should().Be(0, "a lane closes when nothing waits and nothing is in flight");
        foreach (CancellationTokenSource cancellation in cancellations)
        {
            cancellation.Dispose();
        }

        return true;
    }
}
