using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>
/// Makes a value from outside the app (a party id, a header, a webhook field, a request path) safe to put in a log
/// line: a plain-text sink writes it as it is, so "x\r\nwarn: EmailGuard[2001] ..." would forge a line, an ESC would
/// repaint the operator's terminal, U+2028 or U+0085 would break the line in some viewers, a bidi override would hide
/// text, and a 16 KB id would make every line 16 KB.
/// </summary>
/// <remarks>
/// Control characters (C0, DEL, C1), U+2028/U+2029 and the invisible bidi and format controls are written as
/// <c>\uXXXX</c>, and a backslash as <c>\\</c>, so an escape in the output always came from an escaped character, never
/// from a value that spelled one out. The result is cut at <see cref="MaxLength"/> characters (never inside a surrogate
/// pair or an escape), followed by a marker with the original length. Used on log arguments only: keys, decisions
/// and the store always see the value itself. Compiled into every package from this file, so it names no other type.
/// </remarks>
internal static class LogValue
{
    /// <summary>The most characters of a value a log line carries, escapes included, before the truncation marker.</summary>
    public const int MaxLength = 256;

    // C0, DEL, C1 (with NEL, U+0085), the line and paragraph separators, the bidi marks, embeddings, overrides and
    // isolates, the Arabic letter mark, the BOM, and the backslash that introduces an escape.
    private static readonly SearchValues<char> Unsafe = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F" +
        "\u007F" +
        "\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F" +
        "\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F" +
        "\u061C\u200E\u200F\u2028\u2029\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\uFEFF" +
        "\\");

    /// <summary>
    /// Returns <paramref name="value"/> itself when it is short and has nothing to escape (no allocation), else an
    /// escaped, bounded copy; <see langword="null"/> stays <see langword="null"/>.
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Of(string? value)
        => value is null || (value.Length <= MaxLength && !value.AsSpan().ContainsAny(Unsafe)) ? value : Escape(value);

    private static string Escape(string value)
    {
        StringBuilder builder = new(Math.Min(value.Length, MaxLength) + 32);
        int i = 0;
        while (i < value.Length)
        {
            char c = value[i];
            int width = c == '\\' ? 2 : Unsafe.Contains(c) ? 6 : char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]) ? 2 : 1;
            if (builder.Length + width > MaxLength)
            {
                break;
            }

            if (c == '\\')
            {
                builder.Append(@"\\");
            }
            else if (width == 6)
            {
                builder.Append(@"\u").Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(value, i, width);
                i += width - 1;
            }

            i++;
        }

        if (i < value.Length)
        {
            builder.Append(CultureInfo.InvariantCulture, $"...[truncated, {value.Length} chars]");
        }

        return builder.ToString();
    }
}
