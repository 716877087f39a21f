namespace EmailGuard.Tests.Guard;

/// <summary>
/// <see cref="OutboundEmail.GetRecipient"/> is the one walk over a message's recipients that the guard, fan-out and
/// the dashboard share: To, then Cc, then Bcc, in the order <see cref="OutboundEmail.RecipientCount"/> counts them.
/// </summary>
public sealed class OutboundEmailTests
{
    [Fact]
    public void GetRecipient_WalksToThenCcThenBcc()
    {
        var message = new OutboundEmail
        {
            To = ["a@example.com", "b@example.com"],
            Cc = ["c@example.com"],
            Bcc = ["d@example.com", "e@example.com"],
        };

        Enumerable.Range(0, message.RecipientCount).Select(message.GetRecipient).Should().Equal(
            "a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com");
    }

    [Fact]
    public void GetRecipient_SkipsListsThatAreMissingOrEmpty()
    {
        var message = new OutboundEmail { Cc = [], Bcc = ["d@example.com"] };

        message.RecipientCount.Should().Be(1);
        message.GetRecipient(0).Should().Be("d@example.com");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    [InlineData(int.MaxValue)]
    public void GetRecipient_OutsideTheRecipients_ThrowsOutOfRange(int index)
    {
        var message = new OutboundEmail { To = ["a@example.com"], Cc = ["c@example.com"], Bcc = ["d@example.com"] };

        Action get = () => message.GetRecipient(index);

        get.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("index");
    }

    [Fact]
    public void GetRecipient_OnAMessageWithoutRecipients_ThrowsOutOfRange()
    {
        Action get = () => new OutboundEmail().GetRecipient(0);

        get.Should().Throw<ArgumentOutOfRangeException>();
    }
}
