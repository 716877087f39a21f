using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Redis going away and coming back: the store throws while it is down (the resilience wrapper turns that into the
/// failure mode) and works again once it is back, reloading its scripts into the fresh server.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreRestartTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    [Fact]
    public async Task AcquireAsync_ServerRestarted_ThrowsWhileDownThenRecoversAndReloadsScripts()
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
        FakeLogger<RedisRateLimitStore> logger = new();
        RedisRateLimitStore store = CreateStore(multiplexer, logger: logger);
        RateLimitRequest[] request = [new("restart", RateLimitRule.FixedWindow(5, TimeSpan.FromMinutes(1)))];
        (await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();

        Redis.Stop();
        Func<Task> whileDown = async () => await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        await whileDown.Should().ThrowAsync<Exception>().Where(e => e is RedisException || e is TimeoutException);
        await Redis.StartAsync();
        logger.Collector.Clear();
        RateLimitDecision? afterRestart = null;
        for (int attempt = 0; attempt < 200 && afterRestart is null; attempt++)
        {
            try
            {
                afterRestart = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
            }
            catch (RedisException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50));
            }
        }

        afterRestart.Should().NotBeNull("the multiplexer reconnects to the restarted server");
        afterRestart!.Value.IsAllowed.Should().BeTrue();
        logger.Collector.GetSnapshot().Should().Contain(r => r.Id.Id == 310, "the restarted server had no scripts cached");
    }
}
