using System.Diagnostics;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// On server time an entry ends a round trip before the window may have (see the slow-reply test): a flood must not pay
/// for that with a second script in every window.
/// </summary>
public partial class RedisOverLimitCacheTests
{
    [Fact]
    public async Task ServerTime_FloodAcrossWindowEnds_CostsRedisOneScriptPerWindow_TheAdmission()
    {
        ConnectionMultiplexer own = await ConnectWithScriptsLoadedAsync();
        // A resilience timeout of 5 s allows a wait for the window's end of up to 500 ms, far more than a loopback round
        // trip takes even on a loaded machine, so every window end is waited out.
        RedisRateLimitStore store = CreateStore(own, Prefix, TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.FromMinutes(1), maxQueueWait: TimeSpan.FromSeconds(5));
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "probe:", TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule rule = RateLimitRule.FixedWindow(1, TimeSpan.FromSeconds(1));
        RateLimitRequest[] request = [new("flood-across-windows", rule)];
        await StartOfAServerWindowAsync(uncached, rule);

        // 8 callers, each about a thousand requests a second, for 2.6 s: the windows end while they flood, and a request
        // falls inside the last round trip of each window (on the local clock) far more often than not.
        ProfilingSession session = new();
        own.RegisterProfiler(() => session);
        Stopwatch elapsed = Stopwatch.StartNew();
        int[] admitted = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            int mine = 0;
            while (elapsed.Elapsed < TimeSpan.FromSeconds(2.6))
            {
                mine += (await store.AcquireAsync(request, default)).IsAllowed ? 1 : 0;
                await Task.Delay(1);
            }

            return mine;
        })));
        string[] commands = [.. session.FinishProfiling().Select(c => c.Command)];

        int windows = admitted.Sum();
        windows.Should().BeInRange(3, 4, "one admission in each 1 s window the 2.6 s flood touched");
        commands.Should().HaveCount(windows, "each window costs Redis the admission that fills it and nothing else: {0}", string.Join(", ", commands));
        commands.Should().OnlyContain(c => c == "EVALSHA");
    }
}
