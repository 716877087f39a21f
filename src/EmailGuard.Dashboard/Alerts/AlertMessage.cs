using System.Globalization;

namespace EmailGuard.Dashboard;

/// <summary>
/// An alert's title or text as EmailGuard writes it: its own words, with the values others chose (party ids, reasons,
/// who flagged, policy names) kept apart, so that each sink writes those literally in its own format.
/// </summary>
/// <remarks>
/// <para>
/// Slack reads <c>*bold*</c>, <c>_italic_</c>, <c>~strike~</c>, <c>`code`</c> and <c>:emoji:</c> in the text of an
/// incoming webhook, and offers no way to escape them: only <c>&amp;</c>, <c>&lt;</c> and <c>&gt;</c> have an escape. A
/// user id of <c>*RESOLVED* all clear</c> therefore made the alert say so in bold. In an inline code span nothing is
/// formatted, so Slack gets each value in one, with any backtick in it (which would end the span) written as U+02CB
/// (<c>ˋ</c>) and &amp;, &lt;, &gt; escaped as everywhere.
/// </para>
/// <para>
/// The plain form (the alert's <see cref="EmailGuardAlert.Title"/> and <see cref="EmailGuardAlert.Text"/>, which the
/// signed webhook carries) writes each value as it is, kept to its line (<see cref="AlertText.OneLine"/>); the raw form,
/// which the event log keeps and escapes where it writes it, leaves values untouched.
/// A string argument of the template is a value; a number, time or enum is formatted as usual, an
/// <see cref="AlertMessage"/> argument nests in the same form, and the template's own words are trusted.
/// </para>
/// </remarks>
internal sealed class AlertMessage
{
    private static readonly Formatter s_raw = new(Form.Raw);
    private static readonly Formatter s_plain = new(Form.Plain);
    private static readonly Formatter s_slack = new(Form.Slack);

    private readonly string? _verbatim;
    private readonly string _format;
    private readonly object?[] _arguments;

    private AlertMessage(string? verbatim, string format, object?[] arguments)
    {
        _verbatim = verbatim;
        _format = format;
        _arguments = arguments;
        Plain = verbatim ?? string.Format(s_plain, format, arguments);
    }

    private enum Form
    {
        Raw,
        Plain,
        Slack,
    }

    /// <summary>Gets the message as text, each value as it is on one line: the alert's title or text.</summary>
    public string Plain { get; }

    /// <summary>Gets the message with each value as it is, line breaks included: for a record that escapes it where it is written.</summary>
    public string Raw => _verbatim ?? string.Format(s_raw, _format, _arguments);

    /// <summary>Gets the message in Slack's mrkdwn, each value in an inline code span.</summary>
    public string Slack => _verbatim is not null ? SlackEscape(_verbatim) : string.Format(s_slack, SlackEscape(_format), _arguments);

    /// <summary>A message from a template whose string arguments are values others chose.</summary>
    public static AlertMessage Of(FormattableString template) => new(null, template.Format, template.GetArguments());

    /// <summary>
    /// Text someone wrote as a whole, such as an application's own alert title: written as it is, Slack's formatting
    /// included, with only &amp;, &lt; and &gt; escaped for Slack.
    /// </summary>
    public static AlertMessage Verbatim(string? text) => new(text ?? string.Empty, string.Empty, []);

    /// <summary>Slack reads &lt;, &gt; and &amp; as control sequences (<c>&lt;!channel&gt;</c>, links): a party id must not page anyone.</summary>
    public static string SlackEscape(string text)
        => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>A value in an inline code span, where Slack formats nothing; a backtick would end the span, so it is replaced.</summary>
    private static string SlackLiteral(string value)
    {
        string line = AlertText.OneLine(value);
        return line.Length == 0 ? string.Empty : "`" + SlackEscape(line.Replace('`', '\u02CB')) + "`";
    }

    private sealed class Formatter(Form form) : IFormatProvider, ICustomFormatter
    {
        public object? GetFormat(Type? formatType) => formatType == typeof(ICustomFormatter) ? this : null;

        public string Format(string? format, object? arg, IFormatProvider? formatProvider)
        {
            string text = arg switch
            {
                null => string.Empty,
                AlertMessage message => form switch { Form.Slack => message.Slack, Form.Plain => message.Plain, _ => message.Raw },
                string value => form switch { Form.Slack => SlackLiteral(value), Form.Plain => AlertText.OneLine(value), _ => value },
                IFormattable formattable => formattable.ToString(format, CultureInfo.InvariantCulture),
                _ => arg.ToString() ?? string.Empty,
            };
            return form == Form.Slack && arg is not (AlertMessage or string) ? SlackEscape(text) : text;
        }
    }
}
