using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Feedback;

public sealed class InMemoryKeyValueStoreTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Set_MoreKeysThanCapacity_KeepsTheNewestWithinTheBound()
    {
        InMemoryKeyValueStore store = new(3, _time);

        for (int i = 0; i < 1000; i++)
        {
            await store.SetAsync($"k{i}", $"v{i}", TimeSpan.FromDays(1));
        }

        store.Count.Should().Be(3);
        (await store.GetAsync("k999")).Should().Be("v999");
        (await store.GetAsync("k997")).Should().Be("v997");
        (await store.GetAsync("k996")).Should().BeNull();
    }

    [Fact]
    public async Task GetOrAdd_KeepsTheFirstLiveValue_AndStoresAgainOnceItExpired()
    {
        InMemoryKeyValueStore store = new(10, _time);

        string? first = await store.GetOrAddAsync("token", "a", TimeSpan.FromMinutes(1));
        string? second = await store.GetOrAddAsync("token", "b", TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromMinutes(1));
        string? afterExpiry = await store.GetOrAddAsync("token", "c", TimeSpan.FromMinutes(1));

        first.Should().BeNull();
        second.Should().Be("a");
        afterExpiry.Should().BeNull();
        (await store.GetAsync("token")).Should().Be("c");
    }

    [Fact]
    public async Task GetOrAdd_ManyConcurrentCallers_ExactlyOneStores()
    {
        InMemoryKeyValueStore store = new(10, _time);

        string?[] answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() => store.GetOrAddAsync("t", "v" + i, TimeSpan.FromMinutes(1)).AsTask())));

        answers.Count(a => a is null).Should().Be(1);
    }

    [Fact]
    public async Task Set_SameKeyRewrittenOften_StaysBounded()
    {
        InMemoryKeyValueStore store = new(2, _time);

        for (int i = 0; i < 1000; i++)
        {
            await store.SetAsync("same", $"v{i}", TimeSpan.FromDays(1));
        }

        await store.SetAsync("other", "x", TimeSpan.FromDays(1));
        store.Count.Should().Be(2);
        (await store.GetAsync("same")).Should().Be("v999");
        (await store.GetAsync("other")).Should().Be("x");
    }

    [Fact]
    public async Task Get_AfterTheTimeToLive_IsNull()
    {
        InMemoryKeyValueStore store = new(10, _time);
        await store.SetAsync("k", "v", TimeSpan.FromMinutes(5));
        _time.Advance(TimeSpan.FromMinutes(4));
        (await store.GetAsync("k")).Should().Be("v");

        _time.Advance(TimeSpan.FromMinutes(1));

        (await store.GetAsync("k")).Should().BeNull();
    }

    [Fact]
    public async Task Set_PoolFull_ForgetsAnExpiredValueBeforeTheOldestLiveOne()
    {
        InMemoryKeyValueStore store = new(3, _time);
        await store.SetAsync("oldest", "live", TimeSpan.FromDays(1));
        await store.SetAsync("short", "gone soon", TimeSpan.FromMinutes(1));
        await store.SetAsync("newer", "live", TimeSpan.FromDays(1));
        _time.Advance(TimeSpan.FromMinutes(2));

        await store.SetAsync("newest", "live", TimeSpan.FromDays(1));

        (await store.GetAsync("oldest")).Should().Be("live", "an expired value was there to go first");
        (await store.GetAsync("newer")).Should().Be("live");
        (await store.GetAsync("newest")).Should().Be("live");
        store.Count.Should().Be(3);
    }

    [Fact]
    public async Task MessageIdFlood_TwiceTheCapacity_KeepsBreakerMemoryAndReplayTokens()
    {
        const int capacity = 1_000;
        InMemoryKeyValueStore store = new(capacity, _time);
        string breakerMemory = RatioBreaker.KeyPrefix + "t:b:" + StoreKeyEncoding.Hash("acme");
        string replayToken = InMemoryKeyValueStore.ReplayTokenPrefix + "mailgun:" + StoreKeyEncoding.Hash("captured-token");
        await store.SetAsync(breakerMemory, "1|probe", TimeSpan.FromDays(7));
        (await store.GetOrAddAsync(replayToken, "body-hash", TimeSpan.FromMinutes(10))).Should().BeNull();

        for (int i = 0; i < 2 * capacity; i++)
        {
            await store.SetAsync(FeedbackKeys.Message("ses", $"message-{i}"), "eg_t=acme", TimeSpan.FromDays(14));
            await store.GetOrAddAsync(FanOutMonitor.KeyPrefix + StoreKeyEncoding.Hash($"acme{i}@example.com"), "1", TimeSpan.FromDays(7));
        }

        (await store.GetAsync(breakerMemory)).Should().Be("1|probe", "a tenant that tripped must not start over at the shortest suspension");
        (await store.GetOrAddAsync(replayToken, "forged-body-hash", TimeSpan.FromMinutes(10))).Should().Be("body-hash", "the token is still known, so a forged body under it is refused");
        (await store.GetAsync(FeedbackKeys.Message("ses", "message-0"))).Should().BeNull("the message-id pool keeps its own bound");
        (await store.GetAsync(FeedbackKeys.Message("ses", $"message-{(2 * capacity) - 1}"))).Should().Be("eg_t=acme");
        store.Count.Should().Be(capacity + 2);
    }

    [Fact]
    public async Task ReplayTokens_PoolFullOfLiveTokens_RefusesANewTokenAndForgetsNone_UntilOneExpires()
    {
        FakeLogger logger = new();
        InMemoryKeyValueStore store = new(3, _time, logger);
        for (int i = 0; i < 3; i++)
        {
            await store.GetOrAddAsync(Token(i), "body" + i, TimeSpan.FromMinutes(10));
        }

        Func<Task> fourth = async () => await store.GetOrAddAsync(Token(3), "body3", TimeSpan.FromMinutes(10));
        await fourth.Should().ThrowAsync<InvalidOperationException>().WithMessage("*EmailGuard:Feedback:MaxInMemoryMappings*");
        await fourth.Should().ThrowAsync<InvalidOperationException>();

        for (int i = 0; i < 3; i++)
        {
            (await store.GetOrAddAsync(Token(i), "forged", TimeSpan.FromMinutes(10))).Should().Be("body" + i);
        }

        logger.Collector.GetSnapshot().Where(r => r.Id.Id == 2941).Should().ContainSingle()
            .Which.Message.Should().Contain("'replay-tokens'").And.Contain("EmailGuard:Feedback:MaxInMemoryMappings");
        _time.Advance(TimeSpan.FromMinutes(10));
        (await store.GetOrAddAsync(Token(3), "body3", TimeSpan.FromMinutes(10))).Should().BeNull("an expired token makes room");

        static string Token(int i) => InMemoryKeyValueStore.ReplayTokenPrefix + "mailgun:" + StoreKeyEncoding.Hash("token" + i);
    }

    [Fact]
    public async Task Set_PoolFullOfLiveValues_LogsOnceNamingThePoolAndTheOption()
    {
        FakeLogger logger = new();
        InMemoryKeyValueStore store = new(2, _time, logger);
        await store.SetAsync(FeedbackKeys.Message("m0"), "v", TimeSpan.FromDays(1));
        await store.SetAsync(FeedbackKeys.Message("m1"), "v", TimeSpan.FromDays(1));
        logger.Collector.Count.Should().Be(0);

        for (int i = 2; i < 10; i++)
        {
            await store.SetAsync(FeedbackKeys.Message($"m{i}"), "v", TimeSpan.FromDays(1));
        }

        logger.Collector.GetSnapshot().Should().ContainSingle().Which.Should().Match<FakeLogRecord>(r =>
            r.Id.Id == 2940 && r.Message.Contains("'message-ids'") && r.Message.Contains("EmailGuard:Feedback:MaxInMemoryMappings"));
        (await store.GetAsync(FeedbackKeys.Message("m9"))).Should().Be("v");
        (await store.GetAsync(FeedbackKeys.Message("m7"))).Should().BeNull();
    }

    [Fact]
    public async Task Set_ManyRewritesAndExpiries_KeepsTheQueuesBounded()
    {
        InMemoryKeyValueStore store = new(100, _time);

        for (int i = 0; i < 10_000; i++)
        {
            await store.SetAsync("same", $"v{i}", TimeSpan.FromDays(1));
            await store.SetAsync($"short{i % 50}", "v", TimeSpan.FromSeconds(1));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        store.QueuedItems.Should().BeLessThanOrEqualTo(4 * (store.Count + 32));
        (await store.GetAsync("same")).Should().Be("v9999");
    }

    [Fact]
    public async Task Remove_AfterTheTimeToLive_RemovesNothing_AndGetOrAddStoresAgain()
    {
        InMemoryKeyValueStore store = new(10, _time);
        await store.GetOrAddAsync("claim", "a", TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromMinutes(1));

        bool removed = await store.RemoveAsync("claim", "a");
        string? added = await store.GetOrAddAsync("claim", "b", TimeSpan.FromMinutes(1));

        removed.Should().BeFalse("an expired claim is no longer there to remove");
        added.Should().BeNull();
        (await store.RemoveAsync("claim", "a")).Should().BeFalse("the claim taken since is another's");
        (await store.GetAsync("claim")).Should().Be("b");
    }

    [Fact]
    public async Task Remove_InAFullReplayTokenPool_MakesRoomWithoutForgettingALiveToken()
    {
        InMemoryKeyValueStore store = new(3, _time);
        for (int i = 0; i < 3; i++)
        {
            await store.GetOrAddAsync(Token(i), "body" + i, TimeSpan.FromMinutes(10));
        }

        bool removed = await store.RemoveAsync(Token(1), "body1");
        string? added = await store.GetOrAddAsync(Token(3), "body3", TimeSpan.FromMinutes(10));

        removed.Should().BeTrue();
        added.Should().BeNull("the removed token's room is free, so the pool that refuses when full stores");
        (await store.GetAsync(Token(0))).Should().Be("body0");
        (await store.GetAsync(Token(2))).Should().Be("body2");
        store.Count.Should().Be(3);

        static string Token(int i) => InMemoryKeyValueStore.ReplayTokenPrefix + "mailgun:" + StoreKeyEncoding.Hash("token" + i);
    }

    [Fact]
    public async Task Remove_ManyClaimsAndReleases_KeepsTheQueuesBounded()
    {
        InMemoryKeyValueStore store = new(100, _time);

        for (int i = 0; i < 10_000; i++)
        {
            (await store.GetOrAddAsync("claim", $"holder{i}", TimeSpan.FromDays(1))).Should().BeNull();
            (await store.RemoveAsync("claim", $"holder{i}")).Should().BeTrue();
        }

        store.Count.Should().Be(0);
        store.QueuedItems.Should().BeLessThanOrEqualTo(4 * 32);
    }

    [Fact]
    public void SmallPools_AreATenthOfTheCapacity_AtLeast1000_AtMostTheCapacity()
    {
        InMemoryKeyValueStore.SmallPoolCapacity(100_000).Should().Be(10_000);
        InMemoryKeyValueStore.SmallPoolCapacity(5_000).Should().Be(1_000);
        InMemoryKeyValueStore.SmallPoolCapacity(3).Should().Be(3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("line\nbreak")]
    [InlineData("ü")]
    public async Task Set_BadKey_Throws(string key)
    {
        InMemoryKeyValueStore store = new(10, _time);

        Func<Task> set = async () => await store.SetAsync(key, "v", TimeSpan.FromMinutes(1));

        await set.Should().ThrowAsync<ArgumentException>();
    }
}
