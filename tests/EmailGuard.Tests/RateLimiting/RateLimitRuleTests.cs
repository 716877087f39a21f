namespace EmailGuard.Tests.RateLimiting;

public sealed class RateLimitRuleTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    [InlineData(RateLimitRule.MaxLimit + 1)]
    public void Ctor_LimitOutOfRange_ThrowsNamingLimit(long limit)
    {
        // Act
        Action act = () => _ = new RateLimitRule(limit, TimeSpan.FromMinutes(1));

        // Assert
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("limit");
    }

    public static TheoryData<TimeSpan> WindowsOutOfRange => new()
    {
        TimeSpan.Zero,
        TimeSpan.FromMilliseconds(-1),
        TimeSpan.MinValue,
        TimeSpan.FromTicks(1),
        TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond - 1),
        RateLimitRule.MaxWindow + TimeSpan.FromMilliseconds(1),
    };

    [Theory]
    [MemberData(nameof(WindowsOutOfRange))]
    public void Ctor_WindowOutOfRange_ThrowsNamingWindow(TimeSpan window)
    {
        // Act
        Action fixedRule = () => _ = new RateLimitRule(10, window);
        Action slidingRule = () => _ = new RateLimitRule(10, window, RateLimitAlgorithm.SlidingWindow);

        // Assert
        fixedRule.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("window");
        slidingRule.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("window");
    }

    [Fact]
    public void Ctor_WindowNotWholeMilliseconds_ThrowsNamingWindow()
    {
        // Act
        Action act = () => _ = new RateLimitRule(10, TimeSpan.FromTicks((15 * TimeSpan.TicksPerMillisecond) + 1));

        // Assert
        act.Should().Throw<ArgumentException>().WithParameterName("window");
    }

    [Theory]
    [InlineData(1_000, 7)]
    [InlineData(60_000, 7)]
    [InlineData(10, 3)]
    public void Ctor_SegmentsNotDividingWindow_ThrowsNamingSegments(long windowMs, int segments)
    {
        // Act
        Action act = () => _ = RateLimitRule.SlidingWindow(10, TimeSpan.FromMilliseconds(windowMs), segments);

        // Assert
        act.Should().Throw<ArgumentException>().WithParameterName("segments").WithMessage($"*{segments} segments*{windowMs} ms*");
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.SlidingWindow, -1)]
    [InlineData(RateLimitAlgorithm.SlidingWindow, RateLimitRule.MaxSegments + 1)]
    [InlineData(RateLimitAlgorithm.FixedWindow, 2)]
    [InlineData(RateLimitAlgorithm.FixedWindow, -1)]
    public void Ctor_SegmentsOutOfRange_ThrowsNamingSegments(RateLimitAlgorithm algorithm, int segments)
    {
        // Act
        Action act = () => _ = new RateLimitRule(10, TimeSpan.FromDays(1), algorithm, segments);

        // Assert
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("segments");
    }

    [Fact]
    public void Ctor_UnknownAlgorithm_ThrowsNamingAlgorithm()
    {
        // Act
        Action act = () => _ = new RateLimitRule(10, TimeSpan.FromMinutes(1), (RateLimitAlgorithm)7);

        // Assert
        act.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("algorithm");
    }

    [Theory]
    [InlineData(60_000, 10)]
    [InlineData(1_001, 7)]
    [InlineData(1_009, 1)]
    [InlineData(9, 9)]
    [InlineData(1, 1)]
    public void Ctor_SlidingWithoutSegments_PicksTheLargestDivisorUpToTheDefault(long windowMs, int expected)
    {
        // Act
        RateLimitRule rule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMilliseconds(windowMs));

        // Assert
        rule.Segments.Should().Be(expected);
        rule.SegmentMilliseconds.Should().Be(windowMs / expected);
    }

    [Fact]
    public void Ctor_Boundaries_AreAccepted()
    {
        // Act
        RateLimitRule smallest = new(1, TimeSpan.FromMilliseconds(1));
        RateLimitRule largest = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, RateLimitRule.MaxWindow, RateLimitRule.MaxSegments);

        // Assert
        smallest.Segments.Should().Be(1);
        largest.Segments.Should().Be(RateLimitRule.MaxSegments);
        largest.Limit.Should().Be(RateLimitRule.MaxLimit);
    }

    [Fact]
    public void WithLimit_OtherLimit_SharesShapeButIsNotEqual()
    {
        // Arrange
        RateLimitRule normal = RateLimitRule.SlidingWindow(100, TimeSpan.FromHours(1), 6);

        // Act
        RateLimitRule reduced = normal.WithLimit(10);

        // Assert
        reduced.HasSameShape(normal).Should().BeTrue();
        reduced.ShapeId.Should().Be(normal.ShapeId).And.Be("s3600000x6");
        reduced.Should().NotBe(normal);
        reduced.Limit.Should().Be(10);
        normal.WithLimit(100).Should().BeSameAs(normal);
    }

    [Fact]
    public void HasSameShape_DifferentWindowAlgorithmOrSegments_IsFalse()
    {
        // Arrange
        RateLimitRule hourly = RateLimitRule.PerHour(10);

        // Act and assert
        hourly.HasSameShape(RateLimitRule.PerDay(10)).Should().BeFalse();
        hourly.HasSameShape(RateLimitRule.SlidingWindow(10, TimeSpan.FromHours(1))).Should().BeFalse();
        RateLimitRule.SlidingWindow(10, TimeSpan.FromHours(1), 6).HasSameShape(RateLimitRule.SlidingWindow(10, TimeSpan.FromHours(1), 12)).Should().BeFalse();
        hourly.HasSameShape(new RateLimitRule(99, TimeSpan.FromMinutes(60))).Should().BeTrue();
    }

    [Fact]
    public void WithLimit_ZeroOrNegative_ThrowsNamingLimit()
    {
        // Arrange
        RateLimitRule rule = RateLimitRule.PerHour(10);

        // Act
        Action zero = () => rule.WithLimit(0);
        Action negative = () => rule.WithLimit(-5);

        // Assert
        zero.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("limit");
        negative.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("limit");
    }
}
