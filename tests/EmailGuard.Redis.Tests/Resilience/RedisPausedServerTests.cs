using EmailGuard.Testing.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// A server that stops answering with batches in flight, and answers them all at once later: every caller has long
/// had its fail-closed answer, and the batches that were held run anyway. Afterwards every counter must hold exactly
/// what callers were told was admitted.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public class RedisPausedServerTests(RedisServerFixture redis, ITestOutputHelper output)
{
    private const int Instances = 4;
    private const int CallersPerInstance = 16;
    private const int Keys = 200;
    private const int HotKeys = 8;

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    [Fact]
    public async Task ServerPausedWithBatchesInFlight_ManyCallersOverSeveralInstances_EveryCounterHoldsExactlyWhatWasAdmitted()
    {
        // Arrange: 4 instances, 64 callers, 200 keys batched across keys; 8 of them hot with a limit the load passes, so
        // the over-limit cache and the coalescer take part too.
        await using ExactCountFlood flood = await ExactCountFlood.CreateAsync(
            Instances, () => RedisAppInstance.Create(redis.CreateConfiguration(), _prefix, o => o.BreakDuration = TimeSpan.FromMilliseconds(200)), Keys, HotKeys, hotLimit: 150);
        flood.Start(Instances * CallersPerInstance, static (caller, i) => (caller * 31) + (i * 7), storeUnavailableIsFailure: false);

        // Act: the load gets going, then the server holds every command for 1.5 s (6 timeouts), then answers them all;
        // the load goes on until the hot keys are spent.
        await flood.WaitForCallsAsync(2_000);
        int before = flood.Calls;
        await redis.PauseAsync(TimeSpan.FromMilliseconds(1_500));
        await Task.Delay(TimeSpan.FromMilliseconds(2_500), TimeProvider.System);
        await flood.WaitForHotKeysSpentAsync(TimeSpan.FromSeconds(60));
        await flood.StopAsync();

        // Assert
        output.WriteLine($"{flood.Calls} calls ({before} before the pause), {flood.TotalAdmitted} admitted, hot keys admitted {flood.HotAdmitted()}"
            + $"; {flood.Instances.Sum(i => ((RedisRateLimitStore)i.Resilient.Store).Batcher!.MembersBatched)} acquires went in {flood.Instances.Sum(i => ((RedisRateLimitStore)i.Resilient.Store).Batcher!.BatchesSent)} batches");
        await flood.AssertEveryCounterExactAsync(redis, _prefix);
    }
}
