using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The over-limit cache under a hostile flood, without Redis: a bot over its limit on a fresh key every request must
/// cost round trips, not memory, and an entry must never answer for another counter.
/// </summary>
public sealed class RedisOverLimitCacheBoundTests
{
    private static readonly RateLimitRule s_perMinute = RateLimitRule.PerMinute(1);

    [Fact]
    public async Task FreshKeyEveryRequest_FromManyThreads_CacheStaysBounded_AndAdmitsNewKeysOnceTheOldOnesAge()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero));
        RedisOverLimitCache cache = new(time, TimeSpan.FromSeconds(1), meterFactory: null);
        const int PerThread = 25_000;
        const int Threads = 4;

        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                cache.Add($"bot-{t}-{i}", s_perMinute.ShapeId, RedisCounterKey.NoWindow, 1, 60_000, 30_000, cache.Epoch, time.GetTimestamp());
            }
        })));

        cache.Count.Should().BeLessThanOrEqualTo(RedisOverLimitCache.MaxEntries + Threads, "100,000 fresh keys must not grow the cache past its bound");
        cache.Count.Should().BeGreaterThanOrEqualTo(RedisOverLimitCache.MaxEntries - Threads);

        // Once every entry has aged out, the next fresh key sweeps them and is held.
        time.Advance(TimeSpan.FromSeconds(1));
        cache.Add("after", s_perMinute.ShapeId, RedisCounterKey.NoWindow, 1, 60_000, 30_000, cache.Epoch, time.GetTimestamp());
        cache.Count.Should().Be(1);
        cache.TryGetOver("after", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _).Should().BeTrue();
    }

    [Theory]
    [InlineData("Bob@Example.com", "bob@example.com")]
    [InlineData("caf\u00e9", "cafe\u0301")]
    [InlineData("key", "key ")]
    [InlineData("k\u0130", "ki")]
    public void Entry_AnswersOnlyItsOwnKeyAndShape_NeverOneThatDiffersInCaseNormalisationOrWindow(string cached, string other)
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero));
        RedisOverLimitCache cache = new(time, TimeSpan.FromSeconds(1), meterFactory: null);
        cache.Add(cached, s_perMinute.ShapeId, 7, 1, 60_000, 30_000, cache.Epoch, time.GetTimestamp());

        cache.TryGetOver(cached, s_perMinute, 7, out _, out _, out _).Should().BeTrue();
        cache.TryGetOver(other, s_perMinute, 7, out _, out _, out _).Should().BeFalse("another key is another counter in Redis");
        cache.TryGetOver(cached, RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(61)), 7, out _, out _, out _).Should().BeFalse("another window is another counter");
        cache.TryGetOver(cached, RateLimitRule.SlidingWindow(1, TimeSpan.FromMinutes(1), 6), 7, out _, out _, out _).Should().BeFalse();
        cache.TryGetOver(cached, s_perMinute, 8, out _, out _, out _).Should().BeFalse("the next window on the client clock");
        cache.TryGetOver(cached, s_perMinute.WithLimit(2), 7, out _, out _, out _).Should().BeFalse("a raised limit asks Redis");
    }
}
