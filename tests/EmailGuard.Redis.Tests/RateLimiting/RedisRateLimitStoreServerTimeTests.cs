using System.Diagnostics;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The server-time layout of fixed windows, on the Redis clock: a counter is a plain integer that expires at its
/// window's end. The single-key script and the general script must agree on it, repair a counter that
/// lacks a TTL, and report exact retry-after and reset times. The windows here are 300 days long, so a test never
/// straddles a window boundary on the real clock; the few whose window is shorter start clear of its end.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisRateLimitStoreServerTimeTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private static readonly RateLimitRule s_long = RateLimitRule.FixedWindow(5, TimeSpan.FromDays(300));

    /// <summary>
    /// For the tests whose window's length is their subject, the largest that packs the count in 31 bits (about 70
    /// minutes), not 300 days: their counts, read back over several round trips, would start over at the window's end.
    /// </summary>
    private Task ClearOfTheWindowsEndAsync(RateLimitRule rule) => WindowEnd.ClearOfAsync(Admin.GetServers()[0], rule.Window, WindowEnd.HourMargin);

    /// <summary>On server time the app's clock only places the server's answer on the window grid: use the real one.</summary>
    private RedisRateLimitStore ServerTimeStore(TimeProvider? clock = null, TimeSpan? overLimitCacheMaxAge = null)
        => CreateStore(Admin, Prefix, clock ?? TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: overLimitCacheMaxAge);

    [Fact]
    public async Task AcquireAsync_SingleKey_KeyExpiresAtTheWindowsEnd_AndRetryAfterIsTheServersRest()
    {
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitRule rule = RateLimitRule.FixedWindow(2, TimeSpan.FromDays(300));
        RateLimitRequest[] request = [new("single", rule)];
        RateLimitEntry[] entries = new RateLimitEntry[1];

        RateLimitDecision first = await store.AcquireAsync(request, entries);
        RateLimitEntry firstEntry = entries[0];
        long filling = Stopwatch.GetTimestamp();
        await store.AcquireAsync(request, entries);
        TimeSpan fillingTook = Stopwatch.GetElapsedTime(filling);
        RateLimitDecision denied = await store.AcquireAsync(request, entries);
        RateLimitEntry deniedEntry = entries[0];
        RateLimitDecision deniedByRedis = await ServerTimeStore(overLimitCacheMaxAge: TimeSpan.Zero).AcquireAsync(request, default);
        long expiresMs = (long)await Admin.GetDatabase().ExecuteAsync("PEXPIRETIME", (RedisKey)store.CounterKey("single", rule));
        long serverNowMs = new DateTimeOffset(await Admin.GetServers()[0].TimeAsync(), TimeSpan.Zero).ToUnixTimeMilliseconds();

        long resetMs = firstEntry.ResetAt.ToUnixTimeMilliseconds();
        (resetMs % rule.WindowMilliseconds).Should().Be(0, "fixed windows are aligned to the epoch");
        expiresMs.Should().Be(resetMs + 1, "the counter lives through its window's last millisecond, and not past the next one's first");
        first.IsAllowed.Should().BeTrue();
        firstEntry.Count.Should().Be(1);
        first.Timestamp.Should().BeOnOrAfter(firstEntry.ResetAt - rule.Window).And.BeBefore(firstEntry.ResetAt);
        denied.Status.Should().Be(RateLimitStatus.LimitExceeded);
        deniedEntry.Count.Should().Be(2, "a denial reports the count without its own cost");
        deniedEntry.ResetAt.Should().Be(firstEntry.ResetAt);
        long expectedRetry = resetMs - serverNowMs;
        deniedByRedis.RetryAfter.TotalMilliseconds.Should().BeInRange(expectedRetry, expectedRetry + 60_000,
            "the retry-after is the rest of the server's window, measured before the server was asked its time");

        // The second acquire filled the counter, so this store's over-limit cache denied the third: it counts the
        // server's rest from a local moment before that script was sent, so it may fall short of Redis's by up to that
        // script's round trip (a loaded CI-like run saw 3 ms).
        long sentBeforeDecided = (long)Math.Ceiling(fillingTook.TotalMilliseconds);
        denied.RetryAfter.TotalMilliseconds.Should().BeInRange(expectedRetry - sentBeforeDecided - 1, expectedRetry + 60_000,
            "the cached retry-after is the rest of the server's window, counted from before the script that filled the counter was sent ({0} ms before it was answered)", sentBeforeDecided);
    }

    [Fact]
    public async Task AcquireAsync_SingleAndMultiKeyPaths_ShareOneCounter()
    {
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitRequest[] single = [new("shared", s_long)];
        RateLimitRequest[] multi = [new("shared", s_long, 2), new("other", s_long)];
        RateLimitEntry[] entries = new RateLimitEntry[2];

        await store.AcquireAsync(single, Memory<RateLimitEntry>.Empty);
        await store.AcquireAsync(single, Memory<RateLimitEntry>.Empty);
        RateLimitDecision both = await store.AcquireAsync(multi, entries);
        long sharedAfterMulti = entries[0].Count;
        RateLimitDecision full = await store.AcquireAsync(single, entries);
        long sharedAfterLast = entries[0].Count;
        RateLimitDecision singleOver = await store.AcquireAsync(single, Memory<RateLimitEntry>.Empty);
        RateLimitDecision multiOver = await store.AcquireAsync(multi, Memory<RateLimitEntry>.Empty);
        RateLimitDecision peek = await store.PeekAsync(single, entries.AsMemory(0, 1));

        both.IsAllowed.Should().BeTrue();
        sharedAfterMulti.Should().Be(4, "two single-key acquires and a cost of 2 through the general script");
        full.IsAllowed.Should().BeTrue();
        sharedAfterLast.Should().Be(5);
        singleOver.Status.Should().Be(RateLimitStatus.LimitExceeded);
        multiOver.DeniedIndex.Should().Be(0);
        peek.Status.Should().Be(RateLimitStatus.LimitExceeded);
        entries[0].Count.Should().Be(5, "neither denial took anything");
    }

    [Fact]
    public async Task RefundAsync_AfterSingleKeyAcquire_GivesBackToTheSameWindowOnly()
    {
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitRequest[] request = [new("refund", s_long)];
        RateLimitEntry[] entries = new RateLimitEntry[1];
        RateLimitDecision acquired = default;
        for (int i = 0; i < 3; i++)
        {
            acquired = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        }

        await store.RefundAsync(request, new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, acquired.Timestamp - s_long.Window, acquired.AcquisitionId + 1));
        await store.PeekAsync(request, entries);
        long afterForeignRefund = entries[0].Count;
        await store.RefundAsync(request, acquired);
        await store.PeekAsync(request, entries);

        afterForeignRefund.Should().Be(3, "a refund for the previous window must not touch this one");
        entries[0].Count.Should().Be(2, "the decision's timestamp names the window that took the permit");
    }

    [Theory]
    [InlineData(300L * 24 * 3600 * 1000, 1L << 18)] // Windows up to 2^35 ms leave the count 18 bits.
    [InlineData((1L << 22) - 1, 1L << 31)] // An hour fits in 22 bits: the count keeps 31.
    public async Task AcquireAsync_CountAroundThePackedRange_IsReportedExactly(long windowMs, long packedCounts)
    {
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitRule rule = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, TimeSpan.FromMilliseconds(windowMs));
        RateLimitEntry[] entries = new RateLimitEntry[1];
        await ClearOfTheWindowsEndAsync(rule);

        await store.AcquireAsync(new[] { new RateLimitRequest("big", rule, packedCounts - 1) }, entries);
        long belowPacking = entries[0].Count;
        RateLimitDecision crossing = await store.AcquireAsync(new[] { new RateLimitRequest("big", rule, 1) }, entries);
        long atPacking = entries[0].Count;
        await store.AcquireAsync(new[] { new RateLimitRequest("big", rule, RateLimitRule.MaxLimit / 2) }, entries);
        long expiresMs = (long)await Admin.GetDatabase().ExecuteAsync("PEXPIRETIME", (RedisKey)store.CounterKey("big", rule));

        belowPacking.Should().Be(packedCounts - 1);
        crossing.IsAllowed.Should().BeTrue();
        atPacking.Should().Be(packedCounts, "from here the script answers with a pair");
        entries[0].Count.Should().Be(packedCounts + (RateLimitRule.MaxLimit / 2));
        entries[0].ResetAt.ToUnixTimeMilliseconds().Should().Be(expiresMs - 1);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AcquireAsync_CounterWithoutTtl_StartsItsWindowOverWithOne(bool singleKeyPath)
    {
        RedisRateLimitStore store = ServerTimeStore();
        string key = store.CounterKey("no-ttl", s_long);
        await Admin.GetDatabase().StringSetAsync(key, 4);
        RateLimitRequest[] request = singleKeyPath ? [new("no-ttl", s_long)] : [new("no-ttl", s_long), new("no-ttl-2", s_long)];
        RateLimitEntry[] entries = new RateLimitEntry[request.Length];

        RateLimitDecision decision = await store.AcquireAsync(request, entries);

        decision.IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(1, "a counter without a TTL was not written whole by the store, so it is not trusted");
        long expiresMs = (long)await Admin.GetDatabase().ExecuteAsync("PEXPIRETIME", (RedisKey)key);
        expiresMs.Should().Be(entries[0].ResetAt.ToUnixTimeMilliseconds() + 1);
    }

    [Fact]
    public async Task AcquireAsync_SingleKeyCounterWithATtlBeyondItsWindow_StartsItsWindowOver()
    {
        // No counter of this store outlives its window; one that would is foreign, and its TTL would not even fit
        // the single-key script's packed reply.
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitRule rule = s_long;
        string key = store.CounterKey("long-ttl", rule);
        await Admin.GetDatabase().StringSetAsync(key, 4, TimeSpan.FromDays(400));
        RateLimitEntry[] entries = new RateLimitEntry[1];

        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("long-ttl", rule) }, entries);
        long expiresMs = (long)await Admin.GetDatabase().ExecuteAsync("PEXPIRETIME", (RedisKey)key);

        decision.IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(1);
        expiresMs.Should().Be(entries[0].ResetAt.ToUnixTimeMilliseconds() + 1);
    }

    [Fact]
    public async Task PeekAsync_CounterOfAnEarlierWindow_CountsAsEmpty_AndAcquireReplacesIt()
    {
        // A counter that expires before this window's end belongs to an earlier window: the general script can meet
        // one that its start time still saw alive. Here its expiry is simply set early.
        RedisRateLimitStore store = ServerTimeStore();
        string key = store.CounterKey("earlier", s_long);
        await Admin.GetDatabase().StringSetAsync(key, 4, TimeSpan.FromMinutes(5));
        RateLimitRequest[] request = [new("earlier", s_long), new("earlier-2", s_long)];
        RateLimitEntry[] entries = new RateLimitEntry[2];

        await store.PeekAsync(request, entries);
        long peeked = entries[0].Count;
        await store.AcquireAsync(request, entries);

        peeked.Should().Be(0);
        entries[0].Count.Should().Be(1);
        ((long)await Admin.GetDatabase().ExecuteAsync("PEXPIRETIME", (RedisKey)key)).Should().Be(entries[0].ResetAt.ToUnixTimeMilliseconds() + 1);
    }

    [Fact]
    public async Task PeekAsync_CounterOfALaterWindow_CountsAgainstThatWindow()
    {
        // Across cluster slots, later scripts reuse the first script's time; a counter another instance has already
        // started in the next window is then counted, never ignored. Its expiry here is the next window's last
        // millisecond, as versions before 1.0 wrote it, so counters written before an upgrade keep counting too.
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitEntry[] entries = new RateLimitEntry[2];
        RateLimitRequest[] request = [new("later", s_long), new("later-2", s_long)];
        await store.PeekAsync(request, entries);
        long nextLast = entries[0].ResetAt.ToUnixTimeMilliseconds() + s_long.WindowMilliseconds - 1;
        string key = store.CounterKey("later", s_long);
        await Admin.GetDatabase().StringSetAsync(key, 4);
        await Admin.GetDatabase().ExecuteAsync("PEXPIREAT", (RedisKey)key, nextLast);

        await store.PeekAsync(request, entries);
        await Admin.GetDatabase().KeyDeleteAsync(key); // Its TTL is longer than a window, on purpose.

        entries[0].Count.Should().Be(4);
        entries[0].ResetAt.ToUnixTimeMilliseconds().Should().Be(nextLast + 1);
    }

    [Fact]
    public async Task AcquireAsync_AppClockHoursOff_StillAdmitsExactlyAndAnswersTheServersRetryAfter()
    {
        // The app's clock is four hours ahead of Redis, more than half of this 70-minute window: the server still
        // decides and times the retry; only the reported window end, which the app places on the grid with its own
        // clock, may land on another window, and it stays within one window of the app's now.
        FakeTimeProvider farAhead = new(TimeProvider.System.GetUtcNow() + TimeSpan.FromHours(4));
        RedisRateLimitStore store = ServerTimeStore(farAhead);
        RateLimitRule rule = RateLimitRule.FixedWindow(3, TimeSpan.FromMilliseconds((1L << 22) - 1));
        RateLimitRequest[] request = [new("skewed", rule)];
        RateLimitEntry[] entries = new RateLimitEntry[1];
        await ClearOfTheWindowsEndAsync(rule);

        List<RateLimitStatus> statuses = [];
        RateLimitDecision last = default;
        for (int i = 0; i < 5; i++)
        {
            last = await store.AcquireAsync(request, entries);
            statuses.Add(last.Status);
        }

        long ttlMs = (long)await Admin.GetDatabase().ExecuteAsync("PTTL", (RedisKey)store.CounterKey("skewed", rule));

        statuses.Should().Equal(
            RateLimitStatus.Allowed, RateLimitStatus.Allowed, RateLimitStatus.Allowed, RateLimitStatus.LimitExceeded, RateLimitStatus.LimitExceeded);
        // The counter expires a millisecond after its window's end, and the retry-after runs to the end of the window's last
        // millisecond: two milliseconds short of the counter's TTL read at the same instant, and the TTL is read later.
        last.RetryAfter.TotalMilliseconds.Should().BeInRange(ttlMs - 2, ttlMs + 60_000, "the retry-after is the server's own rest of the window");
        (entries[0].ResetAt - last.Timestamp).Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(rule.Window);
    }

    [Theory]
    [InlineData(1, "single")]
    [InlineData(2, "single")]
    [InlineData(1, "coalesced")]
    [InlineData(2, "coalesced")]
    [InlineData(1, "general")]
    [InlineData(2, "general")]
    public async Task AcquireAsync_WindowsOfAMillisecondOrTwo_NeverAdmitMoreThanOnePerWindow(int windowMs, string path)
    {
        // A counter started in its window's last millisecond must live through that millisecond: Redis deletes a key
        // whose expiry is already due, and every acquire in that millisecond would then find a fresh counter.
        RedisRateLimitStore store = ServerTimeStore();
        RateLimitRule rule = RateLimitRule.FixedWindow(1, TimeSpan.FromMilliseconds(windowMs));
        RateLimitRequest[] request = path == "general" ? [new("tiny", rule), new("tiny-other", RateLimitRule.PerDay(1_000_000))] : [new("tiny", rule)];
        IServer server = Admin.GetServers()[0];
        long startMs = new DateTimeOffset(await server.TimeAsync(), TimeSpan.Zero).ToUnixTimeMilliseconds();

        int admitted = 0;
        for (int round = 0; round < 200; round++)
        {
            int callers = path == "coalesced" ? 16 : 1;
            RateLimitDecision[] decisions = await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => store.AcquireAsync(request, Memory<RateLimitEntry>.Empty).AsTask()));
            admitted += decisions.Count(d => d.IsAllowed);
        }

        long endMs = new DateTimeOffset(await server.TimeAsync(), TimeSpan.Zero).ToUnixTimeMilliseconds();
        long windows = ((endMs + 1) / windowMs) - (startMs / windowMs) + 1;

        admitted.Should().BeGreaterThan(0).And.BeLessThanOrEqualTo((int)windows, "a limit of 1 admits at most one acquire per window of the server's clock");
    }
}
