namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// How an alert's title or text is written for each sink: EmailGuard's words as they are, the values others chose
/// literally (in a code span for Slack), and a summary that quotes another alert in the same form as that alert.
/// </summary>
public sealed class AlertMessageTests
{
    [Fact]
    public void Of_StringValues_RawAsTheyAre_PlainOnOneLine_SlackInCodeSpans()
    {
        AlertMessage message = AlertMessage.Of($"Tenant {"*acme*\nx"} flagged: {"a`b"} ({3} of {1.5})");

        message.Raw.Should().Be("Tenant *acme*\nx flagged: a`b (3 of 1.5)", "the event log keeps values as they are and escapes them where it writes them");
        message.Plain.Should().Be("Tenant *acme* x flagged: a`b (3 of 1.5)");
        message.Slack.Should().Be("Tenant `*acme* x` flagged: `a\u02CBb` (3 of 1.5)");
    }

    [Theory]
    [InlineData("ac\u200Bme")] // a zero-width space
    [InlineData("ac\u00ADme")] // a soft hyphen
    [InlineData("ac\u2060me")] // a word joiner
    [InlineData("ac\uFEFFme")] // a BOM
    [InlineData("ac\U000E0041me")] // a tag character (a surrogate pair)
    public void Of_AValueWithAnInvisibleCharacter_ShowsASpaceInIt_DoesNotReadAsAnotherParty(string id)
    {
        // A rogue tenant "ac\u200Bme" was paged as "Tenant acme suspended" in Slack and in the webhook's title: the real
        // tenant's name, while the link went to the rogue's lookup. Line breaks and bidi overrides already became spaces.
        AlertMessage message = AlertMessage.Of($"Tenant {id} suspended");

        message.Plain.Should().Be("Tenant ac me suspended");
        message.Slack.Should().Be("Tenant `ac me` suspended");
        message.Raw.Should().Be($"Tenant {id} suspended", "the event log keeps the value and shows its characters where it writes it");
    }

    [Fact]
    public void Of_AValueMixingScripts_SpelledOutAndMarkedInTheTitleAndSlack_RawKeepsIt()
    {
        // A rogue tenant "аcme" (a Cyrillic а) was paged as "Tenant acme suspended": the real tenant's name.
        AlertMessage message = AlertMessage.Of($"Tenant {"\u0430cme"} suspended");

        message.Plain.Should().Be("Tenant \\u0430cme [mixed scripts] suspended");
        message.Slack.Should().Be("Tenant `\\u0430cme [mixed scripts]` suspended");
        message.Raw.Should().Be("Tenant \u0430cme suspended", "the event log keeps the value and shows it where it writes it");
    }

    [Fact]
    public void Of_TheTemplatesOwnWordsAndFormattedValues_SlackEscapesOnlyAmpersandAndAngleBrackets()
    {
        DateTimeOffset at = new(2026, 12, 5, 6, 0, 0, TimeSpan.Zero);

        AlertMessage message = AlertMessage.Of($"Limits <reduced> & {EmailGuardDimension.Tenant} until {at:u}");

        message.Plain.Should().Be("Limits <reduced> & Tenant until 2026-12-05 06:00:00Z");
        message.Slack.Should().Be("Limits &lt;reduced&gt; &amp; Tenant until 2026-12-05 06:00:00Z");
    }

    [Fact]
    public void Of_NestedMessageAndVerbatimText_EachWrittenInItsOwnForm()
    {
        AlertMessage inner = AlertMessage.Of($"User {"_bob_"} suspended");
        AlertMessage app = AlertMessage.Verbatim("*The app's own* <alert>");

        AlertMessage summary = AlertMessage.Of($"2 more of: {inner}; and {app}");

        summary.Plain.Should().Be("2 more of: User _bob_ suspended; and *The app's own* <alert>");
        summary.Slack.Should().Be("2 more of: User `_bob_` suspended; and *The app's own* &lt;alert&gt;");
    }

    [Fact]
    public void Of_EmptyOrNullValue_WritesNothing_NoEmptyCodeSpan()
    {
        AlertMessage message = AlertMessage.Of($"by {string.Empty}{(string?)null}.");

        message.Slack.Should().Be("by .");
    }
}
