using System.Buffers;
using System.Globalization;
using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// The characters of a value that others wrote (a party id, a reason) that a reader cannot see, or that break or reorder
/// what is shown around them: controls (line breaks and tabs included), format characters (bidirectional marks,
/// embeddings, overrides and isolates, zero-width spaces and joiners, the soft hyphen, the BOM, tags) and line or
/// paragraph separators. The dashboard's pages write them out (<see cref="Html.Visible"/>), its alerts replace them by a
/// space (<see cref="AlertText.OneLine"/>).
/// </summary>
internal static class HiddenCharacters
{
    /// <summary>
    /// <paramref name="value"/> with each hidden character written by <paramref name="write"/> in its place; the value
    /// itself when it has none. Half of a surrogate pair is left as it is (a sink writes it as U+FFFD); a pair is one character.
    /// </summary>
    public static string Replace(string value, Action<StringBuilder, Rune> write)
    {
        StringBuilder? replaced = null;
        int start = 0;
        for (int i = 0; i < value.Length;)
        {
            if (Rune.DecodeFromUtf16(value.AsSpan(i), out Rune rune, out int consumed) == OperationStatus.Done && IsHidden(rune))
            {
                replaced ??= new StringBuilder(value.Length + 16);
                replaced.Append(value, start, i - start);
                write(replaced, rune);
                start = i + consumed;
            }

            i += consumed;
        }

        return replaced is null ? value : replaced.Append(value, start, value.Length - start).ToString();
    }

    private static bool IsHidden(Rune rune)
        => Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}
