using System.Globalization;
using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// Values that others wrote (party ids, reasons, who flagged) as they go into an alert's lines. Slack shows a line
/// break in a user id as the start of a line of its own, under the alert's own bot: an id of
/// <c>"bob\n*[Critical] Rotate the keys at …*"</c> would read as a second alert. So a value keeps to its line.
/// </summary>
internal static class AlertText
{
    /// <summary>
    /// <paramref name="value"/> with every control character, line or paragraph separator and bidirectional override
    /// replaced by a space: what it says stays readable, and it can neither start a line nor reorder the text around it.
    /// </summary>
    public static string OneLine(string? value)
    {
        if (string.IsNullOrEmpty(value) || !value.Any(Breaks))
        {
            return value ?? string.Empty;
        }

        StringBuilder line = new(value.Length);
        foreach (char c in value)
        {
            line.Append(Breaks(c) ? ' ' : c);
        }

        return line.ToString();
    }

    private static bool Breaks(char c)
        => char.IsControl(c)
           || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
           || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069';
}
