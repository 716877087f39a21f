using System.Buffers;
using System.Globalization;
using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// Values that others wrote (party ids, reasons, who flagged) as they go into an alert's lines. Slack shows a line
/// break in a user id as the start of a line of its own, under the alert's own bot: an id of
/// <c>"bob\n*[Critical] Rotate the keys at …*"</c> would read as a second alert. So a value keeps to its line, and
/// what it hides shows: a tenant id of <c>"ac\u200Bme"</c> (a zero-width space) paged as "Tenant acme suspended".
/// </summary>
internal static class AlertText
{
    /// <summary>
    /// <paramref name="value"/> with every control character, line or paragraph separator and format character
    /// (bidirectional marks, overrides and isolates, zero-width spaces and joiners, the soft hyphen, the BOM, tags)
    /// replaced by a space: what it says stays readable, and it can neither start a line, reorder the text around it,
    /// nor read as another value.
    /// </summary>
    public static string OneLine(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value ?? string.Empty;
        }

        StringBuilder? line = null;
        int start = 0;
        for (int i = 0; i < value.Length;)
        {
            // Half of a surrogate pair is left as it is (a sink writes it as U+FFFD); a pair is one character.
            if (Rune.DecodeFromUtf16(value.AsSpan(i), out Rune rune, out int consumed) == OperationStatus.Done && Breaks(rune))
            {
                line ??= new StringBuilder(value.Length);
                line.Append(value, start, i - start).Append(' ');
                start = i + consumed;
            }

            i += consumed;
        }

        return line is null ? value : line.Append(value, start, value.Length - start).ToString();
    }

    private static bool Breaks(Rune rune)
        => Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
