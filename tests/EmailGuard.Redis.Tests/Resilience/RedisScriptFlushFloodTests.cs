using System.Collections.Concurrent;
using EmailGuard.Redis.Tests.RateLimiting;
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
public sealed class RedisScriptFlushFloodTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Instances = 2;
    private const int CallersPerInstance = 32;
    private const int Keys = 41;
    private const int HotKeys = 4;
    private const int Flushes = 10;

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
    public async Task ScriptFlushedRepeatedlyMidFlood_OverManyKeysAndInstances_EveryCounterHoldsExactlyWhatWasAdmitted()
    {
        // Arrange: a generous timeout, since this is about NOSCRIPT recovery, not a loaded machine being slow.
        for (int i = 0; i < Instances; i++)
        {
            _instances.Add(RedisAppInstance.Create(redis.CreateConfiguration(), _prefix, o => o.Timeout = TimeSpan.FromSeconds(5)));
        }

        RateLimitRule wide = RateLimitRule.PerDay(1_000_000);
        RateLimitRule hot = RateLimitRule.PerDay(100);
        RateLimitRequest Request(int key) => key < HotKeys ? new($"hot-{key}", hot) : new($"key-{key}", wide);
        ConcurrentDictionary<int, int> admitted = new();
        ConcurrentQueue<string> failures = new();
        using CancellationTokenSource stop = new();
        int calls = 0;
        Task load = Task.WhenAll(Enumerable.Range(0, Instances * CallersPerInstance).Select(caller => Task.Run(async () =>
        {
            ResilientRateLimitStore store = _instances[caller % Instances].Resilient;
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                int key = ((caller * 7) + (i * 3)) % Keys;
                try
                {
                    RateLimitDecision decision = await store.AcquireAsync(new[] { Request(key) }, default, StoreFailureMode.FailClosed);
                    if (decision.Status == RateLimitStatus.Allowed)
                    {
                        admitted.AddOrUpdate(key, 1, static (_, n) => n + 1);
                    }
                    else if (decision.Status != RateLimitStatus.LimitExceeded)
                    {
                        failures.Enqueue(decision.Status.ToString());
                    }
                }
#pragma warning disable CA1031 // Recorded: a caller must never see one.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failures.Enqueue(ex.ToString());
                }

                Interlocked.Increment(ref calls);
            }
        })));

        // Act: once the flood runs, the scripts are flushed ten times, each after another 200 calls.
        IServer server = redis.CreateMultiplexer().GetServers()[0];
        for (int flush = 0; flush < Flushes && !load.IsCompleted; flush++)
        {
            int target = Volatile.Read(ref calls) + 200;
            while (Volatile.Read(ref calls) < target && !load.IsCompleted)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2), TimeProvider.System);
            }

            await server.ScriptFlushAsync();
        }

        int target2 = Volatile.Read(ref calls) + 500;
        while (Volatile.Read(ref calls) < target2 && !load.IsCompleted)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(2), TimeProvider.System);
        }

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
        output.WriteLine($"{Volatile.Read(ref calls)} calls, {Flushes} flushes, {admitted.Values.Sum()} admitted; hot keys admitted "
            + string.Join(", ", Enumerable.Range(0, HotKeys).Select(k => admitted.GetValueOrDefault(k)))
            + $"; local denials {_instances.Sum(i => ((RedisRateLimitStore)i.Resilient.Store).OverLimitCache!.HitCount)}");
        failures.Should().BeEmpty();
        for (int k = 0; k < Keys; k++)
        {
            counted[k].Count.Should().Be(admitted.GetValueOrDefault(k), "key {0}: Redis must count exactly the admissions callers were told of", k);
        }

        Enumerable.Range(0, HotKeys).Should().OnlyContain(k => admitted.GetValueOrDefault(k) == 100, "the hot keys' limits are reached, never passed");
    }
}
