using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// The over-limit cache answers a flood's denials without Redis, so those answers say nothing about whether Redis is
/// reachable: while Redis hangs they must neither keep the circuit closed nor close it on a probe, or every other
/// caller keeps waiting the timeout for as long as a flooded counter stays cached.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public class RedisHungServerCacheTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Threshold = 3;
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private RedisAppInstance? _instance;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task ServerHangs_FloodDeniedFromTheCacheBetweenTimedOutCalls_CircuitStillOpensAfterTheThreshold()
    {
        // Arrange: a flooded counter cached over its limit for a minute; a short break so the probe comes soon.
        if (!redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS there is no process of ours to freeze.
        }

        _instance = RedisAppInstance.Create(
            redis.CreateConfiguration(),
            _prefix,
            o =>
            {
                o.ConsecutiveFailureThreshold = Threshold;
                o.BreakDuration = TimeSpan.FromMilliseconds(100);
            },
            configureStore: o => o.OverLimitCacheMaxAge = TimeSpan.FromMinutes(1));
        ResilientRateLimitStore store = _instance.Resilient;
        // About a day, centred on now: the flood's denial stays cached (up to a minute) only until its window ends, which must not come meanwhile.
        RateLimitRule rule = CenteredWindow.PerDay(1);
        RateLimitRequest[] flood = [new("flood", rule)];
        await ResilientStoreWaits.ConnectedAsync(store);
        (await store.AcquireAsync(flood, default, StoreFailureMode.FailClosed)).Status.Should().Be(RateLimitStatus.Allowed);
        (await store.AcquireAsync(flood, default, StoreFailureMode.FailClosed)).Status.Should().Be(RateLimitStatus.LimitExceeded);

        // Act: Redis hangs; the flood's denials come from the cache between calls that must time out.
        redis.Freeze();
        List<StoreCircuitState> after = [];
        List<RateLimitStatus> floodAnswers = [];
        try
        {
            for (int i = 0; i < 2 * Threshold; i++)
            {
                floodAnswers.Add((await store.AcquireAsync(flood, default, StoreFailureMode.FailClosed)).Status);
                (await store.AcquireAsync(new[] { new RateLimitRequest($"other-{i}", rule) }, default, StoreFailureMode.FailClosed))
                    .Status.Should().Be(RateLimitStatus.StoreUnavailable);
                after.Add(store.CircuitState);
            }

            // The break ends; the next call is the probe, and it is a flood call answered from the cache.
            await Task.Delay(TimeSpan.FromMilliseconds(300), TimeProvider.System);
            floodAnswers.Add((await store.AcquireAsync(flood, default, StoreFailureMode.FailClosed)).Status);
            after.Add(store.CircuitState);
        }
        finally
        {
            redis.Thaw();
        }

        // Assert
        output.WriteLine("circuit after each round: " + string.Join(", ", after) + "; flood answered " + string.Join(", ", floodAnswers));
        floodAnswers[0].Should().Be(RateLimitStatus.LimitExceeded, "the cache denies the flood while the circuit is closed");
        floodAnswers[^1].Should().Be(RateLimitStatus.LimitExceeded, "the probe went to the store, whose cache denied it");
        floodAnswers.Should().OnlyContain(a => a == RateLimitStatus.LimitExceeded || a == RateLimitStatus.StoreUnavailable);
        after[Threshold - 1].Should().Be(StoreCircuitState.Open, "{0} timeouts in a row open the circuit; denials from the cache are no word from Redis", Threshold);
        after[^1].Should().NotBe(StoreCircuitState.Closed, "a probe answered from the cache does not show that Redis answers");
    }
}
