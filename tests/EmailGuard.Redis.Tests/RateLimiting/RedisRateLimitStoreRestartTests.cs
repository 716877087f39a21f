using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Redis going away and coming back: the store throws while it is down (the resilience wrapper turns that into the
/// failure mode) and works again once it is back. Its scripts reach the fresh server by the reconnect's loads or, for a
/// call that goes out before them, by the NOSCRIPT recovery; which one comes first is a race, so the test does not ask
/// (<see cref="RedisScriptPreloadTests"/> shows the reconnect's loads).
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreRestartTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    [Fact]
    public async Task AcquireAsync_ServerRestarted_ThrowsWhileDownThenRecovers()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server is not ours to stop; the other tests still run.
        }

        ConfigurationOptions configuration = Redis.CreateConfiguration();
        configuration.AsyncTimeout = 1000;
        configuration.ConnectTimeout = 1000;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        await using ConnectionMultiplexer multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
        RedisRateLimitStore store = CreateStore(multiplexer);
        RateLimitRequest[] request = [new("restart", RateLimitRule.FixedWindow(5, TimeSpan.FromMinutes(1)))];
        (await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();

        Redis.Stop();
        Func<Task> whileDown = async () => await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        await whileDown.Should().ThrowAsync<Exception>().Where(e => e is RedisException || e is TimeoutException);
        await Redis.StartAsync();
        RateLimitDecision? afterRestart = null;
        for (int attempt = 0; attempt < 200 && afterRestart is null; attempt++)
        {
            try
            {
                afterRestart = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Not connected yet (RedisConnectionException), or connected and the reply later than the 1 s async
                // timeout (RedisTimeoutException, a TimeoutException): a first call after a restart may also reload the
                // script, and a loaded machine can stretch that past a second. Either way, the next attempt tells.
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
        }

        afterRestart.Should().NotBeNull("the multiplexer reconnects to the restarted server");
        afterRestart!.Value.IsAllowed.Should().BeTrue();
    }
}
