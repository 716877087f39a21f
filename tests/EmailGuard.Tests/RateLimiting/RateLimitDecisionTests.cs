using System.Runtime.CompilerServices;

namespace EmailGuard.Tests.RateLimiting;

public sealed class RateLimitDecisionTests
{
    private static readonly DateTimeOffset s_timestamp = new(2026, 12, 6, 13, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DecidedAt_Unset_IsTheTimestamp()
    {
        RateLimitDecision decision = new(RateLimitStatus.Allowed, -1, TimeSpan.Zero, s_timestamp, 7);

        decision.DecidedAt.Should().Be(s_timestamp);
        decision.DecidedAt.Offset.Should().Be(TimeSpan.Zero);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(330)]
    [InlineData(-840)]
    [InlineData(840)]
    public void DecidedAt_Set_ReadsBackTheSameTimeAndOffset(int offsetMinutes)
    {
        DateTimeOffset decidedAt = new(2026, 12, 6, 12, 59, 58, 250, TimeSpan.FromMinutes(offsetMinutes));

        RateLimitDecision decision = new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, s_timestamp, 7) with { DecidedAt = decidedAt };

        decision.DecidedAt.Should().Be(decidedAt);
        decision.DecidedAt.Offset.Should().Be(decidedAt.Offset);
        decision.DecidedAt.Ticks.Should().Be(decidedAt.Ticks);
        decision.Timestamp.Should().Be(s_timestamp);
    }

    [Fact]
    public void DecidedAt_SetToTheInstantOfDefault_IsTheTimestamp()
    {
        // Unset is told by the instant, as comparing a DateTimeOffset with default does: any offset of that instant is unset.
        DateTimeOffset instantOfDefault = new(TimeSpan.FromHours(5).Ticks, TimeSpan.FromHours(5));

        RateLimitDecision decision = new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, s_timestamp) with { DecidedAt = instantOfDefault };

        decision.DecidedAt.Should().Be(s_timestamp);
    }

    [Fact]
    public void SendDecision_Size_IsCopiedInline()
    {
        // Over 256 bytes the JIT copies a struct with references through the runtime's bulk copy with write barriers, at
        // every step that hands the decision on (264 bytes, when the store's decision kept its DecidedAt as a DateTimeOffset).
        Unsafe.SizeOf<RateLimitDecision>().Should().BeLessThanOrEqualTo(56);
        Unsafe.SizeOf<EmailSendDecision>().Should().BeLessThanOrEqualTo(256);
    }
}
