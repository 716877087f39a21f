namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// What another instance does to a counter this one holds over its limit, each instance on its own connection: the
/// documented trade-off (a denial for at most the max age) and nothing worse, and, in both clocks, the cache answers
/// exactly as Redis does.
/// </summary>
public partial class RedisOverLimitCacheTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ResetThroughAnotherInstance_IsSeenHereAfterTheMaxAgeAtMost_ThenBothAdmitExactlyTheLimitOnce(bool useServerTime)
    {
        // Arrange
        RedisRateLimitStore here = CreateStore(Connect(), useServerTime);
        RedisRateLimitStore other = CreateStore(Connect(), useServerTime);
        RateLimitRule hourly = RateLimitRule.PerHour(3);
        RateLimitRequest[] request = [new("shared-reset", hourly)];
        if (useServerTime)
        {
            await ClearOfTheServersHourAsync();
        }

        for (int i = 0; i < 3; i++)
        {
            (await here.AcquireAsync(request, default)).IsAllowed.Should().BeTrue();
        }

        RateLimitDecision cached = await here.AcquireAsync(request, default);
        cached.IsAllowed.Should().BeFalse();
        cached.AnsweredFromCache.Should().BeTrue("the admission that filled the counter was recorded");

        // Act
        await other.ResetAsync("shared-reset", hourly);
        RateLimitDecision unseen = await here.AcquireAsync(request, default);
        Time.Advance(new RedisRateLimitStoreOptions().OverLimitCacheMaxAge);
        int admitted = 0;
        for (int i = 0; i < 4; i++)
        {
            admitted += (await here.AcquireAsync(request, default)).IsAllowed ? 1 : 0;
            admitted += (await other.AcquireAsync(request, default)).IsAllowed ? 1 : 0;
        }

        // Assert: the documented trade-off, for at most the max age; after it, the limit once across both instances.
        unseen.IsAllowed.Should().BeFalse("this instance has not seen the reset made through another");
        unseen.AnsweredFromCache.Should().BeTrue();
        admitted.Should().Be(3);
    }
}
