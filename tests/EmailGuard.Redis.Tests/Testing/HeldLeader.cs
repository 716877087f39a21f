namespace EmailGuard.Redis.Tests.Testing;

/// <summary>
/// The setup of the tests of a lane's two batches in flight: a leader whose reply a proxy holds (the server has decided,
/// the client has not heard), and callers queued behind it, so that what the lane sends once that reply passes is seen
/// without depending on timing.
/// </summary>
internal static class HeldLeader
{
    /// <summary>
    /// Holds the replies at <paramref name="proxy"/>, makes caller 0's acquire (the leader, sent alone), then those of
    /// callers 1 to <paramref name="queued"/>, which queue behind it, and waits until they have queued and the leader's
    /// reply has reached the proxy.
    /// </summary>
    /// <param name="proxy">The proxy <paramref name="store"/> is connected through.</param>
    /// <param name="store">The store, whose lane is idle.</param>
    /// <param name="queued">How many callers queue behind the leader.</param>
    /// <param name="request">Caller i's requests.</param>
    /// <param name="token">Caller i's token; none by default.</param>
    /// <returns>Every caller's call, the leader's first.</returns>
    public static async Task<Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[]> QueueBehindAsync(
        DelayingRedisProxy proxy, RedisRateLimitStore store, int queued, Func<int, RateLimitRequest[]> request, Func<int, CancellationToken>? token = null)
    {
        RedisScriptBatcher batcher = store.Batcher!;
        proxy.HoldReplies();
        Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] calls = new Task<(RateLimitDecision, RateLimitEntry[])>[1 + queued];
        calls[0] = AcquireAsync(store, request(0), token?.Invoke(0) ?? default);
        (await WaitUntilAsync(() => batcher.LaneCount == 1)).Should().BeTrue("the leader's script went out alone");
        for (int i = 1; i <= queued; i++)
        {
            calls[i] = AcquireAsync(store, request(i), token?.Invoke(i) ?? default);
        }

        (await WaitUntilAsync(() => batcher.QueuedCount == queued)).Should().BeTrue("the callers queue behind the leader, whose reply is held");
        (await WaitUntilAsync(() => proxy.RepliesHeld >= 1)).Should().BeTrue("the leader's reply reaches the proxy");
        return calls;
    }

    /// <summary>
    /// Passes the leader's held reply on and holds every later one (the lane's batches'), and checks that the leader was
    /// admitted. False when, short of the last attempt, the leader is not answered within 5 s: a reply of the
    /// connection's own (a late handshake, a periodic check) was held before it and passed in its place, so the
    /// scenario did not happen; every reply is then let through and every call awaited, and the attempt runs again.
    /// </summary>
    /// <param name="proxy">The proxy holding the leader's reply.</param>
    /// <param name="calls">The calls <see cref="QueueBehindAsync"/> made, the leader's first.</param>
    /// <param name="lastAttempt">Whether this is the last attempt, which is asserted whatever happened.</param>
    /// <returns>Whether the leader was answered, and the scenario can go on.</returns>
    public static async Task<bool> PassLeadersReplyAsync(
        DelayingRedisProxy proxy, Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)>[] calls, bool lastAttempt)
    {
        proxy.PassHeldRepliesAndHoldTheNext();
        if (!lastAttempt && await Task.WhenAny(calls[0], Task.Delay(TimeSpan.FromSeconds(5))) != calls[0])
        {
            proxy.ReleaseReplies();
            await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(60));
            return false;
        }

        (await calls[0].WaitAsync(TimeSpan.FromSeconds(30))).Decision.IsAllowed.Should().BeTrue();
        return true;
    }

    /// <summary>An acquire, with the entries it filled.</summary>
    public static async Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)> AcquireAsync(
        RedisRateLimitStore store, RateLimitRequest[] requests, CancellationToken cancellationToken = default)
    {
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.AcquireAsync(requests, entries, cancellationToken);
        return (decision, entries);
    }

    /// <summary>Polls <paramref name="condition"/> for up to 30 s; a broken store fails the test there, not by hanging it.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition)
    {
        for (DateTime until = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < until; await Task.Delay(10))
        {
            if (condition())
            {
                return true;
            }
        }

        return condition();
    }
}
