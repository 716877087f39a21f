namespace EmailGuard.Tests.RateLimiting;

public sealed class TokenBucketRuleTests
{
    [Fact]
    public void TokenBucket_RateAndBurst_DescribeTheBucket()
    {
        RateLimitRule rule = RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 28);

        rule.Algorithm.Should().Be(RateLimitAlgorithm.TokenBucket);
        rule.Limit.Should().Be(28);
        rule.Rate.Should().Be(14);
        rule.Window.Should().Be(TimeSpan.FromSeconds(1));
        rule.EmissionIntervalMicroseconds.Should().Be(71_429, "1 s / 14 rounds up, so the bucket never refills faster than asked");
        rule.HoldMilliseconds.Should().Be(2_001, "28 × 71,429 µs, rounded up");
        rule.ShapeId.Should().Be("t71429");
        rule.ToString().Should().Be("14/00:00:01 token bucket, burst 28");
    }

    [Fact]
    public void Constructor_TokenBucket_BurstsUpToItsRate()
    {
        RateLimitRule rule = new(100, TimeSpan.FromHours(1), RateLimitAlgorithm.TokenBucket);

        rule.Limit.Should().Be(100);
        rule.Rate.Should().Be(100);
        rule.EmissionIntervalMicroseconds.Should().Be(36_000_000);
        rule.Should().Be(RateLimitRule.TokenBucket(100, TimeSpan.FromHours(1), 100));
    }

    [Fact]
    public void WithLimit_TokenBucket_ScalesTheRateAndSharesTheBucket()
    {
        RateLimitRule rule = RateLimitRule.TokenBucket(100, TimeSpan.FromHours(1), 100);

        RateLimitRule reduced = rule.WithLimit(10);

        reduced.Limit.Should().Be(10);
        reduced.Rate.Should().Be(10);
        reduced.EmissionIntervalMicroseconds.Should().Be(360_000_000, "a tenth of the burst refills at a tenth of the rate");
        reduced.HasSameShape(rule).Should().BeTrue();
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(RateLimitRule.MaxLimit + 1, 1)]
    [InlineData(1, RateLimitRule.MaxLimit + 1)]
    [InlineData(1, 1_000)]
    public void TokenBucket_OutOfRange_Throws(long rate, long burst)
    {
        // A burst of 1,000 at one permit a day would take almost three years to refill: beyond any window.
        Action create = () => RateLimitRule.TokenBucket(rate, TimeSpan.FromDays(1), burst);

        create.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void Constructor_TokenBucketWithSegments_Throws()
    {
        Action create = () => _ = new RateLimitRule(10, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket, segments: 6);

        create.Should().Throw<ArgumentOutOfRangeException>();
    }
}
