using EmailGuard.Testing.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// <c>SCRIPT FLUSH</c>, again and again, under a flood of two instances over many keys, with batches, coalesced lanes
/// and the over-limit cache all at work: no caller sees an error or a failure mode, and every counter holds exactly the
/// admissions callers were told of, the hot ones exactly their limit.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisScriptFlushFloodTests(RedisServerFixture redis, ITestOutputHelper output)
{
    private const int Instances = 2;
    private const int CallersPerInstance = 32;
    private const int Keys = 41;
    private const int HotKeys = 4;
    private const int Flushes = 10;

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    [Fact]
    public async Task ScriptFlushedRepeatedlyMidFlood_OverManyKeysAndInstances_EveryCounterHoldsExactlyWhatWasAdmitted()
    {
        // Arrange: a generous timeout, since this is about NOSCRIPT recovery, not a loaded machine being slow.
        await using ExactCountFlood flood = await ExactCountFlood.CreateAsync(
            Instances, () => RedisAppInstance.Create(redis.CreateConfiguration(), _prefix, o => o.Timeout = TimeSpan.FromSeconds(5)), Keys, HotKeys, hotLimit: 100);
        flood.Start(Instances * CallersPerInstance, static (caller, i) => (caller * 7) + (i * 3), storeUnavailableIsFailure: true);

        // Act: once the flood runs, the scripts are flushed ten times, each after another 200 calls.
        IServer server = redis.CreateMultiplexer().GetServers()[0];
        for (int flush = 0; flush < Flushes; flush++)
        {
            await flood.WaitForCallsAsync(flood.Calls + 200);
            await server.ScriptFlushAsync();
        }

        await flood.WaitForCallsAsync(flood.Calls + 500);
        await flood.WaitForHotKeysSpentAsync(TimeSpan.FromSeconds(60));
        await flood.StopAsync();

        // Assert
        output.WriteLine($"{flood.Calls} calls, {Flushes} flushes, {flood.TotalAdmitted} admitted; hot keys admitted {flood.HotAdmitted()}"
            + $"; local denials {flood.Instances.Sum(i => ((RedisRateLimitStore)i.Resilient.Store).OverLimitCache!.HitCount)}");
        await flood.AssertEveryCounterExactAsync(redis, _prefix);
    }
}
