using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>The largest and malformed messages on one Redis node: a single script over 4,096 keys.</summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisSendGuardSizeTests(RedisServerFixture redis) : SendGuardSizeTests
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    protected override IRateLimitStore CreateStore(FakeTimeProvider time) => RedisStoreTestBase.CreateStore(redis.CreateMultiplexer(), _prefix, time);
}
