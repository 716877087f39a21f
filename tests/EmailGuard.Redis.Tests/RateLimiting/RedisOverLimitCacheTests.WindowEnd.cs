using System.Diagnostics;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// On server time an entry ends a round trip before the window may have (see the slow-reply test): a flood must not pay
/// for that with a second script in every window.
/// </summary>
public partial class RedisOverLimitCacheTests
{
    [Fact]
    public async Task ServerTime_FloodAcrossWindowEnds_CostsRedisOneScriptPerWindow_TheAdmission()
    {
        ConnectionMultiplexer own = Connect();
        // A window's end is waited out only when the round trip that recorded it (sent to reply, batching included) took
        // at most a tenth of the resilience timeout; after a longer one, a request in the gap goes to Redis and is denied
        // there, a second script in the window. A timeout of 10 s allows 1 s, the whole window: 500 ms (at 5 s) was
        // passed under load (two busy loops and other test runs, load 20-50 on 2 cores: 4 scripts for 3 windows, once
        // in 20 runs). A round trip longer than the window would break the flood itself, so that is the premise.
        RedisRateLimitStore store = CreateStore(own, Prefix, TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.FromMinutes(1), maxQueueWait: TimeSpan.FromSeconds(10));
        await ConnectWithScriptsLoadedAsync(store);
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "probe:", TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule rule = RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(1));
        RateLimitRequest[] request = [new("flood-across-windows", rule)];
        await StartOfAServerWindowAsync(uncached, rule);

        // 8 callers, each about a thousand requests a second, until the third window has admitted its one request: two
        // windows end while they flood, and a request falls inside the last round trip of each window (on the local
        // clock) far more often than not. The flood ends on the admissions, not on a clock: a loaded machine can pause
        // the process for longer than the time a fixed-length flood had left in its last window (seen in CI: a 2.6 s
        // flood sent nothing after its second window's admission), and what is pinned is the cost per window.
        ProfilingSession session = new();
        own.RegisterProfiler(() => session);
        Stopwatch elapsed = Stopwatch.StartNew();
        int windowsSeen = 0;
        int[] admitted = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            int mine = 0;
            while (Volatile.Read(ref windowsSeen) < 3 && elapsed.Elapsed < TimeSpan.FromSeconds(30))
            {
                if ((await store.AcquireAsync(request, default)).IsAllowed)
                {
                    mine++;
                    Interlocked.Increment(ref windowsSeen);
                }

                await Task.Delay(1);
            }

            return mine;
        })));
        IProfiledCommand[] profiled = [.. session.FinishProfiling()];
        string[] commands = [.. profiled.Select(c => c.Command)];
        string sent = string.Join(", ", profiled.Select(c => FormattableString.Invariant($"{c.Command} at {c.CommandCreated:HH:mm:ss.fff} ({c.ElapsedTime.TotalMilliseconds:0} ms)")));

        int windows = admitted.Sum();
        windows.Should().BeInRange(3, 4, "the flood ran until its third window admitted (a caller already in flight may reach a fourth), one admission each: {0}", sent);
        commands.Should().HaveCount(windows, "each window costs Redis the admission that fills it and nothing else: {0}", sent);
        commands.Should().OnlyContain(c => c == "EVALSHA");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServerTime_CounterInItsWindowEndGap_BesideOneSurelyOver_OrCostingMoreThanTheLimit_IsSentAtOnce_NotHeld(bool costOverLimit)
    {
        // A store whose boundary wait (500 ms) exceeds the gap made below, on the fake clock.
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, useServerTime: true, overLimitCacheMaxAge: TimeSpan.FromHours(1), maxQueueWait: TimeSpan.FromSeconds(5));
        RedisOverLimitCache cache = store.OverLimitCache!;
        RateLimitRule perSecond = RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(1));
        RateLimitRule hourly = RateLimitRule.PerHour(1);
        await ClearOfTheServersHourAsync();

        // The hourly counter is filled by an admission: surely over for the rest of the hour.
        (await store.AcquireAsync(new[] { new RateLimitRequest("gap", hourly) }, default)).IsAllowed.Should().BeTrue();

        // The per-second counter was seen over by a script answered 20 ms after it was sent; 1,010 ms after the send its
        // window may or may not have ended.
        long sentAt = Time.GetTimestamp();
        Time.Advance(TimeSpan.FromMilliseconds(20));
        cache.Add("gap", perSecond.ShapeId, RedisCounterKey.NoWindow, 1, Time.GetUtcNow().ToUnixTimeMilliseconds() + 980, 1_000, cache.Epoch, sentAt);
        Time.Advance(TimeSpan.FromMilliseconds(990));
        RateLimitRequest[] requests = costOverLimit
            ? [new("gap", perSecond, 2)]
            : [new("gap", perSecond), new("gap", hourly)];

        // Redis denies this acquire whenever it comes (the hourly counter, or a cost no window holds): holding it until
        // the per-second window has surely ended only delays the same denial.
        ValueTask<RateLimitDecision> pending = store.AcquireAsync(requests, default);
        Time.Advance(TimeSpan.FromMilliseconds(50));
        RateLimitDecision decision = await pending;

        decision.IsAllowed.Should().BeFalse();
        cache.BoundaryWaitCount.Should().Be(0, "an acquire Redis denies in any window gains nothing by waiting for this one to end");
    }

    [Fact]
    public async Task ServerTime_CallerCancelsDuringTheWindowEndWait_SurfacesAsCancellation_SendsNothing_AndWaitsOnce()
    {
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, useServerTime: true, overLimitCacheMaxAge: TimeSpan.FromHours(1), maxQueueWait: TimeSpan.FromSeconds(5));
        RedisOverLimitCache cache = store.OverLimitCache!;
        RateLimitRule perSecond = RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(1));
        RateLimitRequest[] request = [new("cancel-in-gap", perSecond)];
        long sentAt = Time.GetTimestamp();
        Time.Advance(TimeSpan.FromMilliseconds(20));
        cache.Add("cancel-in-gap", perSecond.ShapeId, RedisCounterKey.NoWindow, 1, Time.GetUtcNow().ToUnixTimeMilliseconds() + 980, 1_000, cache.Epoch, sentAt);
        Time.Advance(TimeSpan.FromMilliseconds(990));

        using CancellationTokenSource cancel = new();
        ValueTask<RateLimitDecision> waiting = store.AcquireAsync(request, default, cancel.Token);
        waiting.IsCompleted.Should().BeFalse("the acquire waits, on the store's clock, for the window to end surely");
        await cancel.CancelAsync();

        Func<Task> act = async () => await waiting;
        await act.Should().ThrowAsync<OperationCanceledException>("a caller who cancels is told so, not answered by a failure mode");
        cache.BoundaryWaitCount.Should().Be(0);
        (await Admin.GetDatabase().KeyExistsAsync(store.CounterKey("cancel-in-gap", perSecond))).Should().BeFalse("nothing was sent");

        // Once the window has surely ended the next acquire goes straight to Redis, without a second wait.
        Time.Advance(TimeSpan.FromMilliseconds(20));
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        cache.BoundaryWaitCount.Should().Be(0);
    }
}
