namespace EmailGuard.Tests.Guard;

/// <summary>
/// Zero means no: the <see langword="default"/> of every decision type, and every decision an exception can carry,
/// denies. A struct field that was never assigned, an array of decisions never filled, or an exception built without
/// a decision must never read as "allowed".
/// </summary>
public sealed class ZeroValueTests
{
    [Fact]
    public void DefaultStoreDecision_DeniesAndIsNotRefundable()
    {
        RateLimitDecision decision = default;

        decision.Status.Should().Be(RateLimitStatus.None);
        decision.IsAllowed.Should().BeFalse();
        decision.IsRefundable.Should().BeFalse();
        new RateLimitDecision[3].Should().OnlyContain(d => !d.IsAllowed);
    }

    [Fact]
    public void DefaultStoreEntryAndRuleUsage_AreNotAllowed()
    {
        default(RateLimitEntry).IsAllowed.Should().BeFalse();
        default(EmailSendRuleUsage).IsAllowed.Should().BeFalse();
    }

    [Fact]
    public void DefaultSendDecision_DeniesAndIsNotRefundable()
    {
        EmailSendDecision decision = default;

        decision.Reason.Should().Be(EmailSendReason.None);
        decision.IsAllowed.Should().BeFalse();
        decision.IsRefundable.Should().BeFalse();
        decision.ToString().Should().StartWith("None");
    }

    [Fact]
    public void DefaultSendResult_NeitherSentNorAllowed()
    {
        GuardedSendResult result = default;

        result.Sent.Should().BeFalse();
        result.Decision.IsAllowed.Should().BeFalse();
    }

    [Fact]
    public void OutcomeEnums_ZeroIsADenial()
    {
        ((RateLimitStatus)0).Should().Be(RateLimitStatus.None);
        ((EmailSendReason)0).Should().Be(EmailSendReason.None);
        Enum.GetValues<RateLimitStatus>().Where(s => new RateLimitDecision(s, -1, TimeSpan.Zero, DateTimeOffset.UnixEpoch).IsAllowed)
            .Should().BeEquivalentTo([RateLimitStatus.Allowed, RateLimitStatus.AllowedUnguarded]);
    }

    public static TheoryData<string, Func<EmailSendDeniedException>> Constructors => new()
    {
        { "()", () => new EmailSendDeniedException() },
        { "(message)", () => new EmailSendDeniedException("denied") },
        { "(message, inner)", () => new EmailSendDeniedException("denied", new InvalidOperationException("cause")) },
        { "(denial)", () => new EmailSendDeniedException(Decision(EmailSendReason.LimitExceeded)) },
        { "(default decision)", () => new EmailSendDeniedException(default(EmailSendDecision)) },
    };

    [Theory]
    [MemberData(nameof(Constructors))]
    public void DeniedException_EveryConstructor_CarriesADenial(string constructor, Func<EmailSendDeniedException> create)
    {
        EmailSendDeniedException exception = create();

        exception.Decision.IsAllowed.Should().BeFalse(constructor);
        exception.Decision.IsRefundable.Should().BeFalse(constructor);
    }

    [Theory]
    [InlineData(EmailSendReason.Allowed)]
    [InlineData(EmailSendReason.AllowedUnguarded)]
    public void DeniedException_FromAnAllowedDecision_IsRefused(EmailSendReason reason)
    {
        Action create = () => _ = new EmailSendDeniedException(Decision(reason));

        create.Should().Throw<ArgumentException>().WithParameterName("decision");
    }

    private static EmailSendDecision Decision(EmailSendReason reason)
        => new(reason, EmailGuardDimension.None, null, null, null, null, TimeSpan.Zero, DateTimeOffset.UnixEpoch, null);
}
