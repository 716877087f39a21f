using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The acquire script's reply names the reserved time and, when admitted, how far ahead of the decision it lies: the
/// decision and a give-back after a cancellation both read the decision's time from it, where window rules counted.
/// </summary>
public sealed class RedisScriptOutcomeTests
{
    [Fact]
    public void ToDecision_AdmittedAhead_DecidedAtIsTheReservedTimeLessTheWait()
    {
        RateLimitDecision decision = new RedisScriptOutcome(10_000, -1, 250).ToDecision(7);

        decision.IsAllowed.Should().BeTrue();
        decision.RetryAfter.Should().Be(TimeSpan.Zero);
        decision.Timestamp.Should().Be(DateTimeOffset.FromUnixTimeMilliseconds(10_000));
        decision.DecidedAt.Should().Be(DateTimeOffset.FromUnixTimeMilliseconds(9_750));
    }

    [Fact]
    public void ToDecision_Denied_RetryIsNoWaitAndDecidedAtIsTheTimestamp()
    {
        RateLimitDecision decision = new RedisScriptOutcome(10_000, 1, 250).ToDecision(0);

        decision.IsAllowed.Should().BeFalse();
        decision.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(250));
        decision.DecidedAt.Should().Be(decision.Timestamp);
    }

    [Fact]
    public void AdmittedAtOfAcquire_ReadsBothTimes_AndNothingOfADenial()
    {
        RedisResult admitted = RedisResult.Create([RedisResult.Create(10_000), RedisResult.Create(-1), RedisResult.Create(250)]);
        RedisResult denied = RedisResult.Create([RedisResult.Create(10_000), RedisResult.Create(0), RedisResult.Create(250)]);

        RedisScriptCodec.AdmittedAtOfAcquire(admitted).Should().Be((10_000L, 9_750L));
        RedisScriptCodec.AdmittedAtOfAcquire(denied).Should().BeNull();
    }
}
