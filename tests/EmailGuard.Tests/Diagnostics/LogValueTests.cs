namespace EmailGuard.Tests.Diagnostics;

/// <summary>
/// The sanitizer every log argument from outside the app goes through: clean values pass untouched and unallocated,
/// everything that could forge, repaint, break or hide a line is escaped, and long values are cut with their length.
/// </summary>
public sealed class LogValueTests
{
    [Fact]
    public void Of_Null_IsNull() => LogValue.Of((string?)null).Should().BeNull();

    [Theory]
    [InlineData("")]
    [InlineData("acme")]
    [InlineData("user@example.com")]
    [InlineData("Zürich-租户-テナント")]
    [InlineData("emoji-\U0001F600-ok")]
    public void Of_CleanShortValue_ReturnsTheSameInstance(string value) => LogValue.Of(value).Should().BeSameAs(value);

    [Fact]
    public void Of_CleanValueAtTheBound_ReturnsTheSameInstance()
    {
        string value = new('x', LogValue.MaxLength);

        LogValue.Of(value).Should().BeSameAs(value);
    }

    [Fact]
    public void Of_ForgedLine_HasNoLineBreakLeft()
    {
        string escaped = LogValue.Of("a\r\nwarn: EmailGuard[2001] Store unavailable");

        escaped.Should().Be(@"a\u000D\u000Awarn: EmailGuard[2001] Store unavailable");
    }

    [Theory]
    [InlineData('\u0000')]
    [InlineData('\u0007')]
    [InlineData('\t')]
    [InlineData('\n')]
    [InlineData('\r')]
    [InlineData('\u001B')]
    [InlineData('\u001F')]
    [InlineData('\u007F')]
    [InlineData('\u0080')]
    [InlineData('\u0085')]
    [InlineData('\u009B')]
    [InlineData('\u009F')]
    [InlineData('\u2028')]
    [InlineData('\u2029')]
    [InlineData('\u200E')]
    [InlineData('\u200F')]
    [InlineData('\u202A')]
    [InlineData('\u202E')]
    [InlineData('\u2066')]
    [InlineData('\u2069')]
    [InlineData('\u061C')]
    [InlineData('\uFEFF')]
    public void Of_UnsafeChar_IsEscapedAsItsCodePoint(char c)
    {
        string escaped = LogValue.Of($"a{c}b");

        escaped.Should().Be($"a\\u{(int)c:X4}b");
    }

    [Fact]
    public void Of_Backslash_IsDoubled_SoASpelledOutEscapeCannotPassForAnEscapedChar()
    {
        LogValue.Of(@"a\u000Ab").Should().Be(@"a\\u000Ab");
        LogValue.Of("a\nb").Should().NotBe(LogValue.Of(@"a\u000Ab"));
    }

    [Fact]
    public void Of_HugeValue_IsCutAtTheBoundWithItsLength()
    {
        string escaped = LogValue.Of(new string('x', 20_000));

        escaped.Should().Be(new string('x', LogValue.MaxLength) + "...[truncated, 20000 chars]");
    }

    [Fact]
    public void Of_EscapesCountTowardTheBound_AndNoEscapeIsCutInHalf()
    {
        string escaped = LogValue.Of(new string('\n', 100));

        // 42 escapes of six chars fit in 256; the 43rd would not.
        escaped.Should().Be(string.Concat(Enumerable.Repeat(@"\u000A", 42)) + "...[truncated, 100 chars]");
    }

    [Fact]
    public void Of_SurrogatePairAcrossTheBound_IsNotCutInHalf()
    {
        string value = new string('x', LogValue.MaxLength - 1) + "\U0001F600" + "tail";

        string escaped = LogValue.Of(value);

        escaped.Should().Be(new string('x', LogValue.MaxLength - 1) + $"...[truncated, {value.Length} chars]");
    }

    [Fact]
    public void Of_SurrogatePairsInsideTheBound_StayWhole()
    {
        string value = "\U0001F600\n" + new string('y', 300);

        string escaped = LogValue.Of(value);

        escaped.Should().StartWith("\U0001F600\\u000Ayyy");
        escaped.Length.Should().Be(LogValue.MaxLength + $"...[truncated, {value.Length} chars]".Length);
    }

    [Fact]
    public void Of_NullException_IsNull() => LogValue.Of((Exception?)null).Should().BeNull();

    [Theory]
    [InlineData("The store did not answer.")]
    [InlineData(@"Could not load C:\app\emailguard.json")]
    public void Of_ExceptionWithCleanMessages_ReturnsTheSameInstance(string message)
    {
        InvalidOperationException exception = new(message, new TimeoutException("inner"));

        LogValue.Of(exception).Should().BeSameAs(exception);
    }

    [Fact]
    public void Of_ExceptionWithForgedLine_PrintsItsMessageOnOneLineWithTypeAndStack()
    {
        Exception thrown = Thrown(new InvalidOperationException("no tenant 'x\r\nwarn: EmailGuard[2001] Store unavailable\u001B[2J'"));

        Exception logged = LogValue.Of(thrown);

        string[] lines = logged.ToString().Split(Environment.NewLine);
        lines[0].Should().Be(@"System.InvalidOperationException: no tenant 'x\u000D\u000Awarn: EmailGuard[2001] Store unavailable\u001B[2J'");
        lines.Skip(1).Should().NotBeEmpty().And.OnlyContain(line => line.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        logged.Message.Should().NotContainAny("\r", "\n", "\u001B");
        logged.StackTrace.Should().Be(thrown.StackTrace);
        thrown.Message.Should().Contain("\r\n", "the exception itself is not changed");
    }

    [Fact]
    public void Of_InnerExceptionWithForgedLine_IsEscapedToo()
    {
        InvalidOperationException exception = new("The store failed.", new FormatException("key k\nwarn: forged"));

        string printed = LogValue.Of(exception).ToString();

        printed.Should().Contain(@"System.FormatException: key k\u000Awarn: forged").And.Contain("System.InvalidOperationException: The store failed.");
        printed.Should().NotContain("k\nwarn");
        printed.Split(Environment.NewLine).Should().NotContain(line => line.StartsWith("warn:", StringComparison.Ordinal));
    }

    [Fact]
    public void Of_AggregateWithForgedInner_EscapesEveryInnerMessage()
    {
        AggregateException exception = new(new InvalidOperationException("a\rb"), new TimeoutException("c\u2028d"));

        string printed = LogValue.Of(exception).ToString();

        printed.Should().Contain(@"a\u000Db").And.Contain(@"c\u2028d").And.Contain("(Inner Exception #1) System.TimeoutException");
        printed.Should().NotContainAny("\r", "\u2028");
    }

    [Fact]
    public void Of_ExceptionWithHugeMessage_IsCutAtTheMessageBound()
    {
        InvalidOperationException exception = new(new string('x', 20_000));

        Exception logged = LogValue.Of(exception);

        logged.Message.Should().Be(new string('x', LogValue.MaxMessageLength) + "...[truncated, 20000 chars]");
    }

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }
}
