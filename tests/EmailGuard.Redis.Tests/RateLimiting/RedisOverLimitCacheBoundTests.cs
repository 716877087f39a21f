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

    [Fact]
    public void ServerWindowEnd_IsReportedForTheRoundTripItIsUncertain_OnlyWithinTheBoundaryWait_AndNeverAfterTheMaxAge()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero));
        RedisOverLimitCache cache = new(time, TimeSpan.FromMinutes(1), meterFactory: null, maxBoundaryWait: TimeSpan.FromMilliseconds(50));
        RedisOverLimitCache shortLived = new(time, TimeSpan.FromMilliseconds(500), meterFactory: null, maxBoundaryWait: TimeSpan.FromMilliseconds(50));
        RedisOverLimitCache noWait = new(time, TimeSpan.FromMinutes(1), meterFactory: null);

        // Scripts sent now, decided by Redis with 1,000 ms left in the window, answered 20 ms later.
        long sentAt = time.GetTimestamp();
        time.Advance(TimeSpan.FromMilliseconds(20));
        foreach (RedisOverLimitCache each in new[] { cache, shortLived, noWait })
        {
            each.Add("server", s_perMinute.ShapeId, RedisCounterKey.NoWindow, 1, 60_000, 1_000, each.Epoch, sentAt);
            each.Add("client", s_perMinute.ShapeId, 7, 1, 60_000, 1_000, each.Epoch, sentAt);
        }

        time.Advance(TimeSpan.FromMilliseconds(979));
        cache.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out long endedAt).Should().BeTrue();
        endedAt.Should().Be(0);

        // 1,000 ms after the send, the window may have ended; 1,000 ms after the reply, with a millisecond for the whole
        // milliseconds Redis reports and 500 ppm of the time left for the two clocks drifting apart (1.5 ms), it surely has.
        time.Advance(TimeSpan.FromMilliseconds(5));
        long surely = sentAt + (long)(1.0215 * time.TimestampFrequency);
        cache.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse("the window may have ended");
        endedAt.Should().Be(surely);
        cache.TryGetOver("server", s_perMinute.WithLimit(2), RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(0, "a raised limit may be admitted now: nothing to wait for");
        cache.TryGetOver("client", s_perMinute, 7, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(0, "on the client clock the window's end is known exactly");
        noWait.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(0, "a cache made with no boundary wait reports none");
        shortLived.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(0, "an entry its max age ended says nothing about the window");

        // 1,000 ms after the reply the server's clock may still read the window's last millisecond.
        time.Advance(TimeSpan.FromMilliseconds(16));
        cache.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(surely, "the server's whole milliseconds and the clocks' drift leave the end uncertain a little longer");

        time.Advance(TimeSpan.FromMilliseconds(1.5));
        cache.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(0, "the window has surely ended");
        cache.Count.Should().Be(0);

        // A reply that took longer than the boundary wait: its window's end is not waited for.
        RedisOverLimitCache slowReply = new(time, TimeSpan.FromMinutes(1), meterFactory: null, maxBoundaryWait: TimeSpan.FromMilliseconds(50));
        sentAt = time.GetTimestamp();
        time.Advance(TimeSpan.FromMilliseconds(80));
        slowReply.Add("server", s_perMinute.ShapeId, RedisCounterKey.NoWindow, 1, 60_000, 1_000, slowReply.Epoch, sentAt);
        time.Advance(TimeSpan.FromMilliseconds(930));
        slowReply.TryGetOver("server", s_perMinute, RedisCounterKey.NoWindow, out _, out _, out _, out endedAt).Should().BeFalse();
        endedAt.Should().Be(0);
    }
}
