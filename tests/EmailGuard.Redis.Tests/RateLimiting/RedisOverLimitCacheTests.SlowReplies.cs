using EmailGuard.Redis.Tests.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// On server time the window's end is known only as Redis's "time left": a reply that reaches the client late must not
/// make this instance deny past the window's end.
/// </summary>
public partial class RedisOverLimitCacheTests
{
    [Fact]
    public async Task ServerTime_ReplyHeldBackOnItsWayToTheClient_EntryEndsWithTheWindow_TheNextWindowIsAdmittedAtOnce()
    {
        await using DelayingRedisProxy proxy = DelayingRedisProxy.Start(Redis);
        using ConnectionMultiplexer throughProxy = proxy.Connect(Redis);
        RedisRateLimitStore store = CreateStore(throughProxy, Prefix, TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.FromSeconds(30));
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix, TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule rule = RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(3));
        RateLimitRequest[] request = [new("slow-reply", rule)];
        TimeSpan held = TimeSpan.FromMilliseconds(800);
        await StartOfAServerWindowAsync(uncached, rule);

        // The admission that fills the counter: Redis decides at once, the client hears of it 800 ms later.
        proxy.ReplyDelay = held;
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        proxy.ReplyDelay = TimeSpan.Zero;

        RateLimitEntry[] fromRedis = new RateLimitEntry[1];
        (await uncached.AcquireAsync(request, fromRedis)).IsAllowed.Should().BeFalse();
        RateLimitDecision local = await store.AcquireAsync(request, default);

        store.OverLimitCache!.HitCount.Should().Be(1, "the admission filled the counter");
        local.RetryAfter.Should().BeLessThanOrEqualTo(
            fromRedis[0].RetryAfter + TimeSpan.FromMilliseconds(100), "the local answer must not promise a later time than Redis's (it ran 800 ms late)");

        // Once Redis's window has ended, this instance asks Redis again and is admitted in the next window.
        await Task.Delay(fromRedis[0].RetryAfter + TimeSpan.FromMilliseconds(150));
        (await store.AcquireAsync(request, default)).IsAllowed.Should().BeTrue("the window ended on Redis; a denial from the cache would outlive it by the reply's delay");
    }

    /// <summary>Waits, on Redis's clock, until a window of <paramref name="rule"/> has just begun.</summary>
    private static async Task StartOfAServerWindowAsync(RedisRateLimitStore store, RateLimitRule rule)
    {
        RateLimitRequest[] probe = [new("window-probe", rule)];
        await store.AcquireAsync(probe, default);
        RateLimitEntry[] entries = new RateLimitEntry[1];
        (await store.AcquireAsync(probe, entries)).IsAllowed.Should().BeFalse();
        await Task.Delay(entries[0].RetryAfter + TimeSpan.FromMilliseconds(20));
    }
}
