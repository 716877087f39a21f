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
        rule.ShapeId.Should().Be("tw1000", "a bucket is named by its window, not its rate, so a changed rate keeps its state");
        rule.BucketIntervalMicroseconds.Should().Be(71_429);
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
        reduced.BucketIntervalMicroseconds.Should().Be(36_000_000, "a reduced rule reads the TAT of the bucket it was made from as a time");
        reduced.HasSameShape(rule).Should().BeTrue();
    }

    [Fact]
    public void TokenBucket_OtherRateOrBurstOfOneWindow_SharesTheShapeButIsAnotherRule()
    {
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromMinutes(1), 10);

        RateLimitRule lowered = RateLimitRule.TokenBucket(5, TimeSpan.FromMinutes(1), 5);
        RateLimitRule sameBurstSlower = RateLimitRule.TokenBucket(5, TimeSpan.FromMinutes(1), 10);

        lowered.HasSameShape(rule).Should().BeTrue("the bucket's state is kept when its limit changes");
        sameBurstSlower.HasSameShape(rule).Should().BeTrue();
        sameBurstSlower.Should().NotBe(rule, "a rule of another rate decides otherwise, although it keeps the same state");
        RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 10).HasSameShape(rule).Should().BeFalse("a changed window is a new bucket, as for window rules");
    }

    [Theory]

    // 6 of 10 spent (36 s owed at 6 s each), lowered to 5 per minute: all 5 stay spent, as 6 sends would leave a
    // bucket of 5 configured from the start.
    [InlineData(10, 10, 5, 5, 36_000, 60_000)]

    // The same 6 spent, raised to 20 per minute: still 6 spent, refilled at 3 s each.
    [InlineData(10, 10, 20, 20, 36_000, 18_000)]

    // Only the rate lowered (burst 10 kept): 6 spent at 12 s each.
    [InlineData(10, 10, 5, 10, 36_000, 72_000)]

    // 1 ms into a 6 s interval still holds one permit back: rounded up, 12 s under the new one.
    [InlineData(10, 10, 5, 10, 1, 12_000)]

    // A full bucket stays full.
    [InlineData(10, 10, 5, 5, 0, 0)]
    public void Rebased_ChangedBucket_KeepsTheSpentPermits(long rate, long burst, long newRate, long newBurst, long owedMs, long expectedOwedMs)
    {
        RateLimitRule before = RateLimitRule.TokenBucket(rate, TimeSpan.FromMinutes(1), burst);
        RateLimitRule after = RateLimitRule.TokenBucket(newRate, TimeSpan.FromMinutes(1), newBurst);
        const long NowMs = 1_000_000_000;

        long tat = TokenBucketMath.Rebased((NowMs + owedMs) * 1000, before.BucketIntervalMicroseconds, after, NowMs);

        (tat - (NowMs * 1000)).Should().Be(Math.Max(0, expectedOwedMs) * 1000);
    }

    [Fact]
    public void Rebased_ReducedRuleOfTheSameBucket_ReadsTheTatAsATime()
    {
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromMinutes(1), 10);
        const long Tat = 1_000_036_000_000;

        TokenBucketMath.Rebased(Tat, rule.BucketIntervalMicroseconds, rule.WithLimit(2), 1_000_000_000).Should().Be(Tat);
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
