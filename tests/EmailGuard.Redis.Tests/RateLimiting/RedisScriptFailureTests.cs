using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>A script failure on the single Redis node.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisScriptFailureTests(RedisServerFixture redis) : RedisScriptFailureTestsBase(redis);

/// <summary>
/// A script either fails before it writes anything, or leaves every key it wrote with a TTL. The failure is forced
/// with a key of the wrong type (a list where a counter belongs), which makes the server refuse the command that
/// touches it; the base class then scans every key the test wrote for a missing TTL. On Garnet this is also how the
/// old <c>SET … PXAT</c> failed: after the counter's <c>INCRBY</c>, leaving it without a TTL.
/// </summary>
public abstract class RedisScriptFailureTestsBase(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private static readonly RateLimitRule s_fixed = RateLimitRule.FixedWindow(10, TimeSpan.FromHours(1));
    private static readonly RateLimitRule s_sliding = RateLimitRule.SlidingWindow(10, TimeSpan.FromHours(1), segments: 6);

    [Theory]
    [InlineData("abc", false)]
    [InlineData("0.5", false)]
    [InlineData("abc", true)]
    [InlineData("0x1", false)]
    public async Task AcquireAsync_MultiKeyWithASlidingSegmentHoldingANonInteger_FailsBeforeWritingAnyCounter(string planted, bool batched)
    {
        // The current segment's field is the one HINCRBY writes: a value it refuses failed the acquire half-way through
        // its writes. On the client clock the segment is the fake clock's.
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, batchEveryAcquire: batched);
        string wrong = store.CounterKey("wrong", s_sliding);
        long segment = Time.GetUtcNow().ToUnixTimeMilliseconds() / (s_sliding.WindowMilliseconds / 6);
        await Admin.GetDatabase().HashSetAsync(wrong, segment.ToString(System.Globalization.CultureInfo.InvariantCulture), planted);
        await Admin.GetDatabase().KeyExpireAsync(wrong, TimeSpan.FromMinutes(1));
        RateLimitRequest[] requests = [new("a", s_fixed), new("b", s_sliding), new("wrong", s_sliding)];

        Func<Task> act = async () => await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        await act.Should().ThrowAsync<RedisServerException>().WithMessage("*does not hold an integer*");
        (await Admin.GetDatabase().KeyExistsAsync([store.CounterKey("a", s_fixed), store.CounterKey("b", s_sliding)]))
            .Should().Be(0, "a segment that is no integer fails the acquire before its first write");
    }

    [Theory]
    [InlineData("0.5", false)]
    [InlineData("2.5", false)]
    [InlineData("-0.5", false)]
    [InlineData("0x1", false)]
    [InlineData("1e0", false)]
    [InlineData("01", false)]
    [InlineData("0x1", true)]
    [InlineData("0.5", true)]
    public async Task AcquireAsync_MultiKeyWithAFixedCounterHoldingANonInteger_FailsBeforeWritingAnyCounter(string planted, bool batched)
    {
        // A number Lua reads (tonumber) but INCRBY refuses: the admission's writes would fail at this counter, after
        // the counters before it were written. On the client clock the planted key is the window's own counter.
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, batchEveryAcquire: batched);
        string wrong = store.CounterKey("wrong", s_fixed);
        await Admin.GetDatabase().StringSetAsync(wrong, planted, TimeSpan.FromMinutes(1));
        RateLimitRequest[] requests = [new("a", s_fixed), new("b", s_sliding), new("wrong", s_fixed)];

        Func<Task> act = async () => await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        await act.Should().ThrowAsync<RedisServerException>().WithMessage("*does not hold an integer*");
        (await Admin.GetDatabase().KeyExistsAsync([store.CounterKey("a", s_fixed), store.CounterKey("b", s_sliding)]))
            .Should().Be(0, "a counter that is no integer fails the acquire before its first write");
        ((string?)await Admin.GetDatabase().StringGetAsync(wrong)).Should().Be(planted);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AcquireAsync_SingleKeyOnAKeyOfAnotherType_FailsAndWritesNothing(bool useServerTime)
    {
        RedisRateLimitStore store = await StoreAsync(useServerTime);
        string wrong = await PlantListAsync(store, "wrong", s_fixed);

        Func<Task> act = async () => await store.AcquireAsync(new[] { new RateLimitRequest("wrong", s_fixed) }, Memory<RateLimitEntry>.Empty);

        await act.Should().ThrowAsync<RedisServerException>().WithMessage("*WRONGTYPE*");
        (await Admin.GetDatabase().KeyTypeAsync(wrong)).Should().Be(RedisType.List, "the failed script changed nothing");
    }

    [Theory]
    [InlineData(false, "fixed")]
    [InlineData(true, "fixed")]
    [InlineData(false, "sliding")]
    [InlineData(true, "sliding")]
    public async Task AcquireAsync_MultiKeyWithTheLastKeyNotACounter_FailsBeforeWritingAnyCounter(bool useServerTime, string wrongShape)
    {
        RedisRateLimitStore store = await StoreAsync(useServerTime);
        RateLimitRule wrongRule = wrongShape == "fixed" ? s_fixed : s_sliding;
        string wrong = await PlantStringAsync(store, "wrong", wrongRule);
        RateLimitRequest[] requests = [new("a", s_fixed), new("b", s_sliding), new("wrong", wrongRule)];

        Func<Task> act = async () => await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        // A string that is not a number, where a fixed-window counter (an integer) or a sliding one (a hash) belongs.
        // A list would not do on Garnet: its GET does not see a list (objects live in a store of their own).
        await act.Should().ThrowAsync<RedisServerException>().WithMessage(wrongShape == "fixed" ? "*does not hold an integer*" : "*WRONGTYPE*");
        (await Admin.GetDatabase().KeyExistsAsync([store.CounterKey("a", s_fixed), store.CounterKey("b", s_sliding)]))
            .Should().Be(0, "every key is read, and so type-checked, before the first write");
        ((string?)await Admin.GetDatabase().StringGetAsync(wrong)).Should().Be("not a counter");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RefundAsync_OnACounterOfAnotherType_FailsBeforeItsFirstWrite_AndARepeatAfterTheRepairCountsOnce(bool useServerTime)
    {
        // The refund reads every counter before it writes: the planted key's WRONGTYPE comes before the first
        // counter is given back and before the marker is claimed. It used to give back the first counter and claim
        // the marker first, so the failure left the refund half done, and a repeat was refused as already made.
        RedisRateLimitStore store = await StoreAsync(useServerTime);
        RateLimitRequest[] requests = [new("p", s_fixed, 3), new("p", s_sliding, 2)];
        RateLimitDecision admitted = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        await Admin.GetDatabase().KeyDeleteAsync(store.CounterKey("p", s_sliding));
        await Admin.GetDatabase().StringSetAsync(store.CounterKey("p", s_sliding), "not a hash", TimeSpan.FromMinutes(1));

        Func<Task> act = async () => await store.RefundAsync(requests, admitted);

        admitted.IsAllowed.Should().BeTrue();
        await act.Should().ThrowAsync<RedisServerException>().WithMessage("*WRONGTYPE*");
        ((long)await Admin.GetDatabase().StringGetAsync(store.CounterKey("p", s_fixed))).Should().Be(3, "nothing was given back");
        await Admin.GetDatabase().KeyDeleteAsync(store.CounterKey("p", s_sliding));
        (await store.RefundAsync(requests, admitted)).Should().BeTrue("the failed refund claimed nothing");
        ((long)await Admin.GetDatabase().StringGetAsync(store.CounterKey("p", s_fixed))).Should().Be(0);
        (await store.RefundAsync(requests, admitted)).Should().BeFalse("a decision is refunded once");
    }

    [Theory]
    [InlineData("fixed", "abc")]
    [InlineData("fixed", "0.5")]
    [InlineData("fixed", "2.5")]
    [InlineData("fixed", "0x10")]
    [InlineData("fixed", "1e1")]
    [InlineData("fixed", " 5")]
    [InlineData("fixed", "05")]
    [InlineData("sliding", "abc")]
    [InlineData("sliding", "0.5")]
    [InlineData("sliding", "0x3")]
    [InlineData("bucket", "abc")]
    public async Task RefundAsync_ACounterHoldingANonInteger_FailsBeforeItsFirstWrite_AndARepeatAfterTheRepairCountsOnce(string shape, string planted)
    {
        // Someone else wrote the third counter after the acquire. The refund used to give it back as a number Lua read
        // ('0.5' less the cost, written as 0), or skip it ('abc'), and report the refund made; now it fails before
        // its first write, as an acquire over that counter does, and can be repeated once the counter is repaired.
        RateLimitRule wrongRule = shape switch
        {
            "fixed" => s_fixed,
            "sliding" => s_sliding,
            _ => RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), burst: 10),
        };
        RedisRateLimitStore store = CreateStore();
        RateLimitRequest[] requests = [new("a", s_fixed, 3), new("b", s_sliding, 2), new("wrong", wrongRule, 1)];
        RateLimitDecision admitted = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        string wrong = store.CounterKey("wrong", wrongRule);
        RedisValue repaired = await PlantAsync(wrong, wrongRule, planted);

        Func<Task> act = async () => await store.RefundAsync(requests, admitted);

        admitted.IsAllowed.Should().BeTrue();
        await act.Should().ThrowAsync<RedisServerException>().WithMessage("*does not hold an integer*");
        (await CountsAsync(store)).Should().Equal(new long[] { 3, 2 }, "nothing was given back");
        await PlantAsync(wrong, wrongRule, repaired);
        (await store.RefundAsync(requests, admitted)).Should().BeTrue("the failed refund claimed nothing");
        (await CountsAsync(store)).Should().Equal(0, 0);
        (await store.RefundAsync(requests, admitted)).Should().BeFalse("a decision is refunded once");
    }

    /// <summary>Writes <paramref name="value"/> where the counter of <paramref name="rule"/> keeps its count, keeping the key's TTL; returns what was there.</summary>
    private async Task<RedisValue> PlantAsync(string counter, RateLimitRule rule, RedisValue value)
    {
        IDatabase database = Admin.GetDatabase();
        if (rule.Algorithm != RateLimitAlgorithm.SlidingWindow)
        {
            return await database.StringSetAndGetAsync(counter, value, expiry: null, keepTtl: true, When.Always);
        }

        string segment = (Time.GetUtcNow().ToUnixTimeMilliseconds() / (rule.WindowMilliseconds / 6)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        RedisValue before = await database.HashGetAsync(counter, segment);
        await database.HashSetAsync(counter, segment, value);
        return before;
    }

    private async Task<long[]> CountsAsync(RedisRateLimitStore store)
    {
        RateLimitEntry[] entries = new RateLimitEntry[2];
        await store.PeekAsync(new[] { new RateLimitRequest("a", s_fixed, 0), new RateLimitRequest("b", s_sliding, 0) }, entries);
        return [entries[0].Count, entries[1].Count];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AcquireAsync_ServerOrClientTime_EveryCounterWrittenHasATtl(bool useServerTime)
    {
        // The path where Garnet refused SET … PXAT after INCRBY had run: the single-key, multi-key and coalesced
        // acquires, each on a fresh counter.
        RedisRateLimitStore store = await StoreAsync(useServerTime);
        await store.AcquireAsync(new[] { new RateLimitRequest("one", s_fixed) }, Memory<RateLimitEntry>.Empty);
        await store.AcquireAsync(new[] { new RateLimitRequest("multi-a", s_fixed), new RateLimitRequest("multi-b", s_sliding) }, Memory<RateLimitEntry>.Empty);
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => store.AcquireAsync(new[] { new RateLimitRequest("many", s_fixed) }, Memory<RateLimitEntry>.Empty).AsTask()));
        await store.SettledAsync();

        string[] counters = [store.CounterKey("one", s_fixed), store.CounterKey("multi-a", s_fixed), store.CounterKey("multi-b", s_sliding), store.CounterKey("many", s_fixed)];
        foreach (string counter in counters)
        {
            (await Admin.GetDatabase().KeyTimeToLiveAsync(counter)).Should().NotBeNull($"{counter} was written by the store");
        }

        ((long)await Admin.GetDatabase().StringGetAsync(store.CounterKey("many", s_fixed))).Should().Be(10, "a limit of 10, however many callers");
    }

    /// <summary>
    /// A store on the fake clock or on the server's: on the server's, the hourly counters these tests read back after
    /// their writes would start over at the hour's end, so the test starts at least 30 s before it.
    /// </summary>
    private async Task<RedisRateLimitStore> StoreAsync(bool useServerTime)
    {
        if (useServerTime)
        {
            await WindowEnd.ClearOfTheHourAsync(Admin.GetServers()[0]);
        }

        return CreateStore(useServerTime: useServerTime);
    }

    private async Task<string> PlantListAsync(RedisRateLimitStore store, string key, RateLimitRule rule)
    {
        string name = store.CounterKey(key, rule);
        await Admin.GetDatabase().ListLeftPushAsync(name, "not a counter");
        await Admin.GetDatabase().KeyExpireAsync(name, TimeSpan.FromMinutes(1));
        return name;
    }

    private async Task<string> PlantStringAsync(RedisRateLimitStore store, string key, RateLimitRule rule)
    {
        string name = store.CounterKey(key, rule);
        await Admin.GetDatabase().StringSetAsync(name, "not a counter", TimeSpan.FromMinutes(1));
        return name;
    }
}
