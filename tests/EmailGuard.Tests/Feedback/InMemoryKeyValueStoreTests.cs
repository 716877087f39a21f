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
