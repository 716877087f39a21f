using System.Collections.Concurrent;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// A server that stops answering with batches in flight, and answers them all at once later: every caller has long
/// had its fail-closed answer, and the batches that were held run anyway. Afterwards every counter must hold exactly
/// what callers were told was admitted.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisPausedServerTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Instances = 4;
    private const int CallersPerInstance = 16;
    private const int Keys = 200;
    private const int HotKeys = 8;

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<RedisAppInstance> _instances = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (RedisAppInstance instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task ServerPausedWithBatchesInFlight_ManyCallersOverSeveralInstances_EveryCounterHoldsExactlyWhatWasAdmitted()
    {
        // Arrange: 4 instances, 64 callers, 200 keys batched across keys; 8 of them hot with a limit the load passes, so
        // the over-limit cache and the coalescer take part too.
        for (int i = 0; i < Instances; i++)
        {
            _instances.Add(RedisAppInstance.Create(redis.CreateConfiguration(), _prefix, o => o.BreakDuration = TimeSpan.FromMilliseconds(200)));
        }

        RateLimitRule wide = RateLimitRule.PerDay(1_000_000);
        RateLimitRule hot = RateLimitRule.PerDay(150);
        RateLimitRequest Request(int key) => key < HotKeys ? new($"hot-{key}", hot) : new($"key-{key}", wide);
        ConcurrentDictionary<int, int> admitted = new();
        ConcurrentQueue<Exception> exceptions = new();
        using CancellationTokenSource stop = new();
        int calls = 0;
        Task load = Task.WhenAll(Enumerable.Range(0, Instances * CallersPerInstance).Select(caller => Task.Run(async () =>
        {
            ResilientRateLimitStore store = _instances[caller % Instances].Resilient;
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                int key = ((caller * 31) + (i * 7)) % Keys;
                try
                {
                    RateLimitDecision decision = await store.AcquireAsync(new[] { Request(key) }, default, StoreFailureMode.FailClosed);
                    if (decision.Status == RateLimitStatus.Allowed)
                    {
                        admitted.AddOrUpdate(key, 1, static (_, n) => n + 1);
                    }
                    else if (decision.Status == RateLimitStatus.StoreUnavailable)
                    {
                        // The open circuit answers at once: a caller that retried in a tight loop would only burn the CPU.
                        await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
                    }
                }
#pragma warning disable CA1031 // Recorded: a caller must never see one.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    exceptions.Enqueue(ex);
                }

                Interlocked.Increment(ref calls);
            }
        })));

        // Act: the load gets going, then the server holds every command for 1.5 s (6 timeouts), then answers them all.
        while (Volatile.Read(ref calls) < 2_000 && !load.IsCompleted)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }

        int before = Volatile.Read(ref calls);
        await redis.PauseAsync(TimeSpan.FromMilliseconds(1_500));
        await Task.Delay(TimeSpan.FromMilliseconds(2_500), TimeProvider.System);
        await stop.CancelAsync();
        await load.WaitAsync(TimeSpan.FromSeconds(60));
        foreach (RedisAppInstance instance in _instances)
        {
            await instance.Resilient.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));
            await ((RedisRateLimitStore)instance.Resilient.Store).SettledAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        // Assert: read every counter with a store that caches nothing.
        RedisRateLimitStore reader = RedisStoreTestBase.CreateStore(redis.CreateMultiplexer(), _prefix, TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRequest[] all = [.. Enumerable.Range(0, Keys).Select(k => Request(k) with { Cost = 0 })];
        RateLimitEntry[] counted = new RateLimitEntry[Keys];
        (await reader.PeekAsync(all, counted)).Status.Should().Be(RateLimitStatus.Allowed);
        output.WriteLine($"{Volatile.Read(ref calls)} calls ({before} before the pause), {admitted.Values.Sum()} admitted, hot keys admitted "
            + string.Join(", ", Enumerable.Range(0, HotKeys).Select(k => admitted.GetValueOrDefault(k)))
            + $"; {_instances.Sum(i => ((RedisRateLimitStore)i.Resilient.Store).Batcher!.MembersBatched)} acquires went in {_instances.Sum(i => ((RedisRateLimitStore)i.Resilient.Store).Batcher!.BatchesSent)} batches");
        exceptions.Should().BeEmpty();
        for (int k = 0; k < Keys; k++)
        {
            counted[k].Count.Should().Be(admitted.GetValueOrDefault(k), "key {0}: Redis must count exactly the admissions callers were told of", k);
        }

        Enumerable.Range(0, HotKeys).Should().OnlyContain(k => admitted.GetValueOrDefault(k) == 150, "the hot keys' limits are reached, never passed");
    }
}
