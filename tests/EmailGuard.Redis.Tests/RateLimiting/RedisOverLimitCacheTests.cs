using System.Diagnostics.Metrics;
using EmailGuard.Redis.Tests.Testing;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The over-limit cache: a counter Redis reported at or over its limit (by a denial, or by the admission that filled
/// it) is denied locally, exactly as Redis would deny it, until its window ends, its max age passes, or something that
/// could admit earlier (a refund, a reset, a raised limit) happens.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public partial class RedisOverLimitCacheTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private static readonly RateLimitRule s_perMinute = RateLimitRule.PerMinute(3);

    [Fact]
    public async Task Flood_AfterOneDenialFromRedis_IsDeniedLocallyWithTheSameDecisions()
    {
        RedisRateLimitStore store = CreateStore();
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "uncached:", Time, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRequest[] request = [new("flood", s_perMinute)];
        for (int i = 0; i < 3; i++)
        {
            (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
            (await uncached.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < 50; i++)
        {
            Time.Advance(TimeSpan.FromMilliseconds(100));
            RateLimitEntry[] cachedEntries = new RateLimitEntry[1];
            RateLimitEntry[] redisEntries = new RateLimitEntry[1];

            RateLimitDecision cached = await store.AcquireAsync(request, cachedEntries);
            RateLimitDecision fromRedis = await uncached.AcquireAsync(request, redisEntries);

            cached.Should().Be(fromRedis);
            cached.IsAllowed.Should().BeFalse();
            cachedEntries.Should().Equal(redisEntries);
        }

        // The first denial went to Redis; every entry lives at most the max age (1 s), so a 5 s flood asks again at most
        // once a second.
        store.OverLimitCache!.HitCount.Should().BeInRange(50 - 6, 49);
    }

    [Fact]
    public async Task AdmissionThatFillsACounter_DeniesTheNextLocally_AsRedisWould_OneThatLeavesRoom_DoesNot()
    {
        RedisRateLimitStore store = CreateStore();
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "uncached:", Time, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule hourly = RateLimitRule.PerHour(5);

        // One counter: 2 of 3, then 3 of 3 (filled by an admission), then a request Redis would deny.
        // Several counters: an admission fills "a" (2 of 2) and leaves "b" at 1 of 5.
        RateLimitRequest[][] steps =
        [
            [new("one", s_perMinute, 2)],
            [new("one", s_perMinute)],
            [new("one", s_perMinute)],
            [new("a", s_perMinute.WithLimit(2), 2), new("b", hourly)],
            [new("a", s_perMinute.WithLimit(2))],
            [new("b", hourly), new("a", s_perMinute.WithLimit(2))],
            [new("b", hourly, 4)],
            [new("b", hourly)],
        ];
        // [b, a] asks Redis: "b" is not known to be over, so which request denies first is Redis's to say.
        bool[] local = [false, false, true, false, true, false, false, true];
        for (int step = 0; step < steps.Length; step++)
        {
            Time.Advance(TimeSpan.FromMilliseconds(100));
            RateLimitEntry[] cachedEntries = new RateLimitEntry[steps[step].Length];
            RateLimitEntry[] redisEntries = new RateLimitEntry[steps[step].Length];
            long hits = store.OverLimitCache!.HitCount;

            RateLimitDecision cached = await store.AcquireAsync(steps[step], cachedEntries);
            RateLimitDecision fromRedis = await uncached.AcquireAsync(steps[step], redisEntries);

            cached.Status.Should().Be(fromRedis.Status, "step {0}", step);
            cached.RetryAfter.Should().Be(fromRedis.RetryAfter, "step {0}", step);
            cached.Timestamp.Should().Be(fromRedis.Timestamp, "step {0}", step);
            cachedEntries.Should().Equal(redisEntries, "step {0}", step);
            (store.OverLimitCache.HitCount - hits).Should().Be(local[step] ? 1 : 0, "step {0} is {1}answered locally", step, local[step] ? string.Empty : "not ");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReservationThatFillsACounter_IsNotRecorded_TheNextAcquireAsksRedis(bool useServerTime)
    {
        // A reservation's decision is dated at its reserved time, which a token bucket may put in a later window than
        // the one its window counters counted in: recording its counters by that date could deny a window that has
        // room. So a reservation's admission records nothing (its denials are dated now, and are recorded as ever).
        RateLimitRule rule = useServerTime ? RateLimitRule.PerHour(3) : s_perMinute;
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, useServerTime: useServerTime, overLimitCacheMaxAge: TimeSpan.FromMinutes(1));
        if (useServerTime)
        {
            await ClearOfTheServersHourAsync();
        }

        RateLimitRequest[] three = [new("reserve", rule, 3)];
        RateLimitEntry[] entries = new RateLimitEntry[1];
        (await store.ReserveAsync(three, rule.Window, entries)).IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(3, "the reservation filled the counter");

        (await store.AcquireAsync(new RateLimitRequest[] { new("reserve", rule) }, default)).IsAllowed.Should().BeFalse();

        store.OverLimitCache!.HitCount.Should().Be(0, "the denial came from Redis");
        (await store.AcquireAsync(new RateLimitRequest[] { new("reserve", rule) }, default)).IsAllowed.Should().BeFalse();
        store.OverLimitCache.HitCount.Should().Be(1, "that denial was recorded");
    }

    [Fact]
    public async Task EmptyAcquire_WhileAnotherCounterIsCachedOverItsLimit_IsAdmitted()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] request = [new("full", RateLimitRule.PerMinute(1))];
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        store.OverLimitCache!.Count.Should().BeGreaterThan(0);

        (await store.AcquireAsync(ReadOnlyMemory<RateLimitRequest>.Empty, default)).IsAllowed.Should().BeTrue(
            "a message no rule applies to takes no counter, whatever other counters are full");
    }

    [Fact]
    public async Task ConcurrentFlood_AdmitsExactlyTheLimit_AndRedisSeesOnlyTheAdmission()
    {
        ConnectionMultiplexer own = Connect();
        RedisRateLimitStore store = CreateStore(own, Prefix, Time, overLimitCacheMaxAge: TimeSpan.FromMinutes(1));
        await ConnectWithScriptsLoadedAsync(store);
        RateLimitRequest[] warmUp = [new("warm-up", RateLimitRule.PerHour(1))];
        await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => Task.Run(async () => await store.AcquireAsync(warmUp, default))));
        RateLimitRequest[] request = [new("concurrent", RateLimitRule.PerHour(1))];

        // Every command the store sends on its connection, by name, so a failure says what the extra round trip was.
        ProfilingSession session = new();
        own.RegisterProfiler(() => session);
        RateLimitDecision[] first = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => Task.Run(async () => await store.AcquireAsync(request, default))));
        string[] firstCommands = [.. session.FinishProfiling().Select(c => c.Command)];
        session = new();
        RateLimitDecision[] second = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => Task.Run(async () => await store.AcquireAsync(request, default))));
        string[] secondCommands = [.. session.FinishProfiling().Select(c => c.Command)];

        first.Count(d => d.IsAllowed).Should().Be(1);
        second.Should().OnlyContain(d => !d.IsAllowed);

        // The admission filled the counter: the callers queued behind it, and any that lead the key's lane after it
        // closed, are denied from its answer. A caller that arrived while its lane's queue was full would go alone,
        // which 60 never fill. So the window costs Redis one script.
        firstCommands.Should().ContainSingle("the first flood sent {0}", string.Join(", ", firstCommands));
        secondCommands.Should().BeEmpty("the second flood is denied from the cache");
    }

    /// <summary>
    /// For the tests that fill an hourly counter on the server's clock and then expect it full: across the hour's end
    /// the counter starts over (and the cache, which knows the window's end, stops answering). Starts at least 30 s
    /// before the hour ends.
    /// </summary>
    private Task ClearOfTheServersHourAsync() => WindowEnd.ClearOfTheHourAsync(Admin.GetServers()[0]);

    /// <summary>
    /// Connects a store on a connection of the test's own, whose commands a <see cref="ProfilingSession"/> counts on the
    /// client (the server's command statistics also count the scripts that other tests' background work, give-backs and
    /// breaker timers, sends meanwhile), and waits for the scripts the connection loads when it connects: neither those
    /// loads nor a first-use EVAL is then counted in a flood (a warm-up flood alone did not always form a batch on a
    /// loaded machine, and the batch script's first use showed as a stray EVAL in the flood).
    /// </summary>
    private static async Task ConnectWithScriptsLoadedAsync(RedisRateLimitStore store)
    {
        await store.Connection.GetDatabaseAsync();
        await store.Connection.ScriptLoads;
    }

    [Fact]
    public async Task MultiKeyAcquire_EveryCounterCachedOver_IsDeniedLocallyAsRedisWould_OneNotCached_AsksRedis()
    {
        RedisRateLimitStore store = CreateStore();
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "uncached:", Time, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule hourly = RateLimitRule.PerHour(2);
        foreach (RedisRateLimitStore each in new[] { store, uncached })
        {
            await each.AcquireAsync(new RateLimitRequest[] { new("a", s_perMinute, 3), new("b", hourly, 2) }, default);
            await each.AcquireAsync(new RateLimitRequest[] { new("a", s_perMinute) }, default);
            await each.AcquireAsync(new RateLimitRequest[] { new("b", hourly) }, default);
        }

        RateLimitRequest[] both = [new("b", hourly), new("a", s_perMinute), new("b", hourly, 2)];
        RateLimitEntry[] cachedEntries = new RateLimitEntry[3];
        RateLimitEntry[] redisEntries = new RateLimitEntry[3];
        long hits = store.OverLimitCache!.HitCount;

        RateLimitDecision cached = await store.AcquireAsync(both, cachedEntries);
        RateLimitDecision fromRedis = await uncached.AcquireAsync(both, redisEntries);

        cached.Should().Be(fromRedis);
        cachedEntries.Should().Equal(redisEntries);
        store.OverLimitCache.HitCount.Should().Be(hits + 1);

        RateLimitRequest[] withFresh = [new("fresh", s_perMinute), new("a", s_perMinute)];
        cached = await store.AcquireAsync(withFresh, cachedEntries.AsMemory(0, 2));
        fromRedis = await uncached.AcquireAsync(withFresh, redisEntries.AsMemory(0, 2));

        cached.Should().Be(fromRedis);
        cachedEntries.Should().Equal(redisEntries);
        store.OverLimitCache.HitCount.Should().Be(hits + 1, "a counter not known to be over could deny first, or later");
    }

    [Fact]
    public async Task RefundThroughThisInstance_ClearsTheCache_NextAcquireIsAdmitted()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] request = [new("refund", s_perMinute)];
        RateLimitDecision last = default;
        for (int i = 0; i < 3; i++)
        {
            last = await store.AcquireAsync(request, default);
        }

        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        store.OverLimitCache!.HitCount.Should().Be(2, "the admission that filled the counter was recorded");

        (await store.RefundAsync(request, last)).Should().BeTrue();

        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue("the refund removed the counter's entry");
        store.OverLimitCache.HitCount.Should().Be(2, "the admission after the refund came from Redis");
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        store.OverLimitCache.HitCount.Should().Be(3, "that admission filled the counter again");
    }

    [Fact]
    public async Task ResetThroughThisInstance_ClearsTheCache_NextAcquireIsAdmitted()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] request = [new("reset", s_perMinute, 3)];
        await store.AcquireAsync(request, default);
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();

        store.OverLimitCache!.HitCount.Should().Be(1, "the admission that filled the counter was recorded");

        await store.ResetAsync("reset", s_perMinute);

        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        store.OverLimitCache.HitCount.Should().Be(1);
    }

    [Fact]
    public async Task RaisedLimit_IsNotDeniedFromTheCache_LoweredLimitIs()
    {
        RedisRateLimitStore store = CreateStore();
        await store.AcquireAsync(new RateLimitRequest[] { new("limit", s_perMinute, 3) }, default);
        (await store.AcquireAsync(new RateLimitRequest[] { new("limit", s_perMinute) }, default)).IsAllowed.Should().BeFalse();

        RateLimitDecision raised = await store.AcquireAsync(new RateLimitRequest[] { new("limit", s_perMinute.WithLimit(4)) }, default);
        RateLimitDecision lowered = await store.AcquireAsync(new RateLimitRequest[] { new("limit", s_perMinute.WithLimit(2)) }, default);

        raised.IsAllowed.Should().BeTrue("a tenant override raised the limit: the cache must ask Redis");
        lowered.IsAllowed.Should().BeFalse();
        // The first denial came from the admission's record; the admission under the raised limit filled the counter
        // at 4, which the lowered limit's denial came from.
        store.OverLimitCache!.HitCount.Should().Be(2);
        (await store.AcquireAsync(new RateLimitRequest[] { new("limit", s_perMinute.WithLimit(4)) }, default)).IsAllowed.Should().BeFalse();
        store.OverLimitCache.HitCount.Should().Be(3);
    }

    [Fact]
    public async Task WindowEnd_EndsTheEntry_TheNextWindowIsAdmitted()
    {
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, overLimitCacheMaxAge: TimeSpan.FromMinutes(1));
        RateLimitRequest[] request = [new("window", s_perMinute, 3)];
        await store.AcquireAsync(request, default);
        RateLimitEntry[] entries = new RateLimitEntry[1];
        (await store.AcquireAsync(request, entries)).IsAllowed.Should().BeFalse();
        DateTimeOffset end = entries[0].ResetAt;

        Time.SetUtcNow(end.AddMilliseconds(-1));
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        store.OverLimitCache!.HitCount.Should().Be(2, "both denials came from the record of the admission that filled the counter");

        Time.SetUtcNow(end);
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task RefundThroughAnotherInstance_IsSeenHereAfterTheMaxAgeAtMost()
    {
        RedisRateLimitStore here = CreateStore();
        RedisRateLimitStore other = CreateStore();
        RateLimitRequest[] request = [new("shared", s_perMinute, 3)];
        RateLimitDecision admitted = await other.AcquireAsync(request, default);
        (await here.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();

        (await other.RefundAsync(request, admitted)).Should().BeTrue();

        // The documented trade-off: this instance has not seen the refund, and denies for at most the max age.
        (await here.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        Time.Advance(new RedisRateLimitStoreOptions().OverLimitCacheMaxAge);
        (await here.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task SlidingWindow_IsNeverCached()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] request = [new("sliding", RateLimitRule.SlidingWindow(2, TimeSpan.FromMinutes(1)), 2)];
        await store.AcquireAsync(request, default);
        for (int i = 0; i < 5; i++)
        {
            (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        }

        store.OverLimitCache!.Count.Should().Be(0);
        store.OverLimitCache.HitCount.Should().Be(0);
    }

    [Fact]
    public async Task MaxAgeZero_TurnsTheCacheOff()
    {
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRequest[] request = [new("off", s_perMinute, 3)];
        await store.AcquireAsync(request, default);

        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeFalse();

        store.OverLimitCache.Should().BeNull();
    }

    [Fact]
    public async Task LocalDenials_AreCountedInTheMeter()
    {
        using TestMeterFactory meterFactory = new();
        using MetricCollector<long> hits = new(meterFactory, EmailGuardDiagnostics.MeterName, RedisOverLimitCache.LocalDenialsInstrument);
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, meterFactory: meterFactory);
        RateLimitRequest[] request = [new("metric", s_perMinute, 3)];
        await store.AcquireAsync(request, default);
        await store.AcquireAsync(request, default);

        for (int i = 0; i < 4; i++)
        {
            await store.AcquireAsync(request, default);
        }

        hits.GetMeasurementSnapshot().EvaluateAsCounter().Should().Be(5, "the first acquire filled the counter");
    }

    [Fact]
    public async Task ServerTime_Flood_IsDeniedLocallyWithinTheWindow()
    {
        RedisRateLimitStore store = CreateStore(useServerTime: true);
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "uncached:", Time, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule rule = RateLimitRule.PerHour(2);
        RateLimitRequest[] request = [new("server", rule, 2)];
        await ClearOfTheServersHourAsync();
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        (await uncached.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        RateLimitEntry[] fromRedis = new RateLimitEntry[1];
        (await uncached.AcquireAsync(request, fromRedis)).IsAllowed.Should().BeFalse();

        RateLimitEntry[] local = new RateLimitEntry[1];
        RateLimitDecision decision = await store.AcquireAsync(request, local);

        store.OverLimitCache!.HitCount.Should().Be(1, "the admission filled the counter");
        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        // The server's milliseconds left, counted from before the script was sent: the local answer may run early by the
        // request's way to Redis (a few ms), never late, and never by anything like a window.
        decision.RetryAfter.Should().BeGreaterThan(TimeSpan.Zero).And.BeCloseTo(fromRedis[0].RetryAfter, TimeSpan.FromSeconds(5));
        local[0].Count.Should().Be(2);
        local[0].ResetAt.Should().Be(fromRedis[0].ResetAt);
    }
}
