using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

[Collection(RedisServerFixture.CollectionName)]
public class RedisRateLimitStoreTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private static readonly RateLimitRule s_fixed = RateLimitRule.FixedWindow(3, TimeSpan.FromMinutes(1));
    private static readonly RateLimitRule s_sliding = RateLimitRule.SlidingWindow(3, TimeSpan.FromMinutes(1), segments: 6);

    [Fact]
    public async Task AcquireAsync_UpToLimit_AdmitsThenDeniesUntilWindowEnds()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] request = [new("tenant:acme", s_fixed)];
        RateLimitEntry[] entries = new RateLimitEntry[1];

        for (int i = 0; i < 3; i++)
        {
            (await store.AcquireAsync(request, entries)).IsAllowed.Should().BeTrue();
        }

        RateLimitDecision denied = await store.AcquireAsync(request, entries);
        long nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        long windowEnd = ((nowMs / 60_000) + 1) * 60_000;

        denied.Status.Should().Be(RateLimitStatus.LimitExceeded);
        denied.DeniedIndex.Should().Be(0);
        denied.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(windowEnd - nowMs));
        denied.Timestamp.Should().Be(Time.GetUtcNow());
        entries[0].Should().Be(new RateLimitEntry(false, 3, 3, denied.RetryAfter, DateTimeOffset.FromUnixTimeMilliseconds(windowEnd)));

        Time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(windowEnd));
        (await store.AcquireAsync(request, entries)).IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_MultiKeyWithOneFull_TakesNothingFromTheOthers()
    {
        RedisRateLimitStore store = CreateStore();
        await store.AcquireAsync(new[] { new RateLimitRequest("full", s_sliding, 3) }, Memory<RateLimitEntry>.Empty);
        RateLimitRequest[] requests = [new("a", s_fixed, 2), new("full", s_sliding, 1), new("b", s_sliding, 1)];
        RateLimitEntry[] entries = new RateLimitEntry[3];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);
        RateLimitDecision peek = await store.PeekAsync(
            new RateLimitRequest[] { new("a", s_fixed, 0), new("b", s_sliding, 0) }, entries.AsMemory(0, 2));

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(1);
        peek.IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(0);
        entries[1].Count.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_SameCounterTwiceInOneCall_CostsAddUp()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] requests = [new("domain:example.com", s_fixed, 2), new("domain:example.com", s_fixed, 2)];
        RateLimitEntry[] entries = new RateLimitEntry[2];

        RateLimitDecision decision = await store.AcquireAsync(requests, entries);

        decision.DeniedIndex.Should().Be(1);
        entries[0].Should().Match<RateLimitEntry>(e => e.IsAllowed && e.Count == 0);
        entries[1].Should().Match<RateLimitEntry>(e => !e.IsAllowed && e.Count == 2);
    }

    [Fact]
    public async Task AcquireAsync_CostAboveLimit_RetryAfterIsMaxValue()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitEntry[] entries = new RateLimitEntry[1];

        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("k", s_sliding, 4) }, entries);

        decision.RetryAfter.Should().Be(TimeSpan.MaxValue);
        entries[0].RetryAfter.Should().Be(TimeSpan.MaxValue);
    }

    [Fact]
    public async Task RefundAsync_AfterAdmittedAcquire_GivesPermitsBackWithoutCreatingKeys()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] requests = [new("r", s_fixed, 3), new("r2", s_sliding, 3)];
        RateLimitDecision admitted = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        await store.RefundAsync(requests, admitted);
        await store.RefundAsync(new[] { new RateLimitRequest("never-acquired", s_sliding, 1) }, admitted with { });
        RateLimitDecision again = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        admitted.IsAllowed.Should().BeTrue();
        again.IsAllowed.Should().BeTrue();
        (await Admin.GetDatabase().KeyExistsAsync(store.CounterKey("never-acquired", s_sliding))).Should().BeFalse();
    }

    [Fact]
    public async Task PeekAsync_FreshAndDeniedCounters_WritesNothing()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] peek = [new("peek-fresh", s_fixed, 2), new("peek-fresh", s_sliding, 5), new("peek-fresh-2", s_sliding, 0)];
        RateLimitEntry[] entries = new RateLimitEntry[3];

        RateLimitDecision decision = await store.PeekAsync(peek, entries);

        decision.DeniedIndex.Should().Be(1);
        entries.Select(e => e.Count).Should().Equal(0, 0, 0);
        (await Admin.GetDatabase().KeyExistsAsync(
            [store.CounterKey("peek-fresh", s_fixed), store.CounterKey("peek-fresh", s_sliding), store.CounterKey("peek-fresh-2", s_sliding)]))
            .Should().Be(0);
    }

    [Fact]
    public async Task ResetAsync_FullCounter_DeletesIt()
    {
        RedisRateLimitStore store = CreateStore();
        await store.AcquireAsync(new[] { new RateLimitRequest("k", s_fixed, 3) }, Memory<RateLimitEntry>.Empty);

        await store.ResetAsync("k", s_fixed);

        (await Admin.GetDatabase().KeyExistsAsync(store.CounterKey("k", s_fixed))).Should().BeFalse();
        (await store.AcquireAsync(new[] { new RateLimitRequest("k", s_fixed, 3) }, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task AcquireAsync_AfterScriptFlush_ReloadsTransparentlyAndCountsOn()
    {
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = CreateStore(logger: logger);
        RateLimitRequest[] request = [new("flush", s_fixed)];
        RateLimitEntry[] entries = new RateLimitEntry[1];
        await store.AcquireAsync(request, entries);
        logger.Collector.Clear();
        IServer server = Admin.GetServers()[0];
        long evalShaBefore = await CommandCallsAsync(server, "evalsha");

        await server.ScriptFlushAsync();
        RateLimitDecision afterFlush = await store.AcquireAsync(request, entries);
        long afterFlushCount = entries[0].Count;
        RateLimitDecision afterReload = await store.AcquireAsync(request, entries);

        afterFlush.IsAllowed.Should().BeTrue();
        afterFlushCount.Should().Be(2);
        afterReload.IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(3);
        logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 310);
        (await CommandCallsAsync(server, "evalsha")).Should().BeGreaterThanOrEqualTo(evalShaBefore + 2, "calls go by SHA, the reload included");
    }

    [Fact]
    public async Task AcquireAsync_ServerTime_UsesTheRedisClock()
    {
        RedisRateLimitStore store = CreateStore(useServerTime: true);
        IServer server = Admin.GetServers()[0];
        RateLimitRule rule = RateLimitRule.SlidingWindow(2, TimeSpan.FromDays(1), segments: 24);
        RateLimitRequest[] request = [new("server-time", rule)];
        DateTime before = await server.TimeAsync();

        RateLimitDecision first = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        RateLimitDecision third = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        DateTime after = await server.TimeAsync();
        await store.RefundAsync(request, first);
        RateLimitDecision afterRefund = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);

        first.IsAllowed.Should().BeTrue();
        third.Status.Should().Be(RateLimitStatus.LimitExceeded);
        first.Timestamp.UtcDateTime.Should().BeOnOrAfter(before.AddMilliseconds(-1)).And.BeOnOrBefore(after.AddMilliseconds(1));
        afterRefund.IsAllowed.Should().BeTrue("the refund found the segment by the server timestamp of the acquire");
    }

    [Fact]
    public async Task AcquireAsync_InvalidRequest_ThrowsBeforeTouchingRedis()
    {
        int connects = 0;
        RedisRateLimitStoreOptions options = new()
        {
            KeyPrefix = Prefix,
            ConnectionMultiplexerFactory = () =>
            {
                Interlocked.Increment(ref connects);
                return Task.FromResult<IConnectionMultiplexer>(Admin);
            },
        };
        RedisRateLimitStore store = new(new RedisConnection(options, null, null), options, Time);

        Func<Task> emptyKey = async () => await store.AcquireAsync(new[] { new RateLimitRequest("", s_fixed) }, Memory<RateLimitEntry>.Empty);
        Func<Task> zeroCost = async () => await store.AcquireAsync(new[] { new RateLimitRequest("k", s_fixed, 0) }, Memory<RateLimitEntry>.Empty);
        Func<Task> shortResults = async () => await store.PeekAsync(new[] { new RateLimitRequest("k", s_fixed), new RateLimitRequest("j", s_fixed) }, new RateLimitEntry[1]);
        Func<Task> longKey = async () => await store.ResetAsync(new string('k', RateLimitRequest.MaxKeyLength + 1), s_fixed);
        Func<Task> nullRule = async () => await store.RefundAsync(new[] { new RateLimitRequest("k", null!) }, default(RateLimitDecision));

        await emptyKey.Should().ThrowAsync<ArgumentException>();
        await zeroCost.Should().ThrowAsync<ArgumentOutOfRangeException>();
        await shortResults.Should().ThrowAsync<ArgumentException>().WithParameterName("results");
        await longKey.Should().ThrowAsync<ArgumentException>();
        await nullRule.Should().ThrowAsync<ArgumentException>();
        connects.Should().Be(0);
    }

    [Fact]
    public void CounterKey_KeyWithItsOwnHashTag_LandsOnTheStoreHashTag()
    {
        RedisRateLimitStore store = CreateStore();

        string key = store.CounterKey("a{x}@b", s_fixed);
        string tag = key[(key.IndexOf('{', StringComparison.Ordinal) + 1)..key.IndexOf('}', StringComparison.Ordinal)];

        key.Should().StartWith(Prefix + "{").And.MatchRegex(@":f60000#\d+:a\{x\}@b$", "a client-clock fixed window's key names its window");
        tag.Should().MatchRegex("^[0-9a-f]{16}$");
        Admin.HashSlot(key).Should().Be(Admin.HashSlot("{" + tag + "}"));
        Admin.HashSlot(key).Should().Be(Admin.HashSlot(store.CounterKey("a{x}@b", s_sliding)), "all rules of one partition share a slot");
        RedisCounterKey.Hash("a{x}@b").Should().Be(RedisCounterKey.Hash("a{x}@b")).And.NotBe(RedisCounterKey.Hash("a{y}@b"));
        tag.Should().Be(RedisCounterKey.Hash("a{x}@b").ToString("x16", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void CounterKeyCreate_ManyKeys_TagIsTheHashIn16LowercaseHexDigits_AsEarlierVersionsWroteIt()
    {
        // The tag is written digit by digit on the hot path; counters already in Redis must keep their names, so it
        // must equal what x16 formatting wrote, leading zeros and all.
        Random random = new(19);
        for (int i = 0; i < 2_000; i++)
        {
            string partition = i < 1_000 ? $"user-{i}@example.com" : new string([.. Enumerable.Range(0, random.Next(1, 40)).Select(_ => (char)random.Next(1, 0xD7FF))]);
            string key = RedisCounterKey.Create("p:", partition, "f60000", RedisCounterKey.NoWindow);
            key.Should().Be($"p:{{{RedisCounterKey.Hash(partition).ToString("x16", System.Globalization.CultureInfo.InvariantCulture)}}}:f60000:{partition}");
        }
    }

    [Fact]
    public async Task AcquireAsync_EveryKeyWritten_HasTtlWithinWindowPlusGrace()
    {
        RedisRateLimitStore store = CreateStore();
        RateLimitRule day = RateLimitRule.FixedWindow(100, TimeSpan.FromDays(1));
        RateLimitRule hour = RateLimitRule.SlidingWindow(100, TimeSpan.FromHours(1), segments: 60);

        for (int i = 0; i < 20; i++)
        {
            await store.AcquireAsync(new[] { new RateLimitRequest($"k{i % 4}", day), new RateLimitRequest($"k{i % 3}", hour, 2) }, Memory<RateLimitEntry>.Empty);
            Time.Advance(TimeSpan.FromMinutes(7));
        }

        (IReadOnlyList<string> violations, int checkedKeys) = await RedisKeyTtlAssertions.FindViolationsAsync(
            Admin, Prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);

        checkedKeys.Should().Be(7);
        violations.Should().BeEmpty();
    }

    private static async Task<long> CommandCallsAsync(IServer server, string command)
    {
        string info = (await server.InfoRawAsync("commandstats"))!;
        string marker = $"cmdstat_{command}:calls=";
        int at = info.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return 0;
        }

        at += marker.Length;
        int end = info.IndexOf(',', at);
        return long.Parse(info.AsSpan(at, end - at), System.Globalization.CultureInfo.InvariantCulture);
    }
}
