using EmailGuard.Testing.Configuration;

namespace EmailGuard.Redis.Tests.DependencyInjection;

/// <summary>Every [Range] of the Redis options fails by its full path in the hand-written checks' words.</summary>
public sealed class RedisRangeFailureTests
{
    [Fact]
    public void RedisRateLimitStoreOptions_EveryRange_ReadsLikeTheHandWrittenChecks()
        => RangeFailures.ShouldAllReadLikeTheHandWrittenChecks(new RedisRateLimitStoreOptionsValidator(), "EmailGuard:Redis").Should().BeGreaterThan(0);
}
