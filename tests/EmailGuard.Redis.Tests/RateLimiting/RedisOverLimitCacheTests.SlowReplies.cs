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
        // 6 s: the admission (its reply held 800 ms), Redis's denial and the local one all fall in the window that began,
        // with 5 s to spare for a loaded machine's pauses (a 3 s window left 2.2 s).
        RateLimitRule rule = RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(6));
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
        // Only a denial says how long its window has left, so the probe acquires until Redis denies it. A window can end
        // between the acquire that fills the counter and the next one, which is then admitted in the new window: for a
        // 1 s window that is a loaded machine's pause between two calls out of 1,000 ms, not rare enough to assume it
        // never happens. The new window fills in turn; its own denial follows.
        RateLimitRequest[] probe = [new("window-probe", rule)];
        RateLimitEntry[] entries = new RateLimitEntry[1];
        bool denied = false;
        for (long attempt = 0; attempt < rule.Limit + 10 && !denied; attempt++)
        {
            denied = !(await store.AcquireAsync(probe, entries)).IsAllowed;
        }

        denied.Should().BeTrue("the probe's counter fills after {0} acquires in one window", rule.Limit);
        await Task.Delay(entries[0].RetryAfter + TimeSpan.FromMilliseconds(20));
    }
}
