using System.Text;

namespace EmailGuard;

/// <summary>The markup steps of the normalizer: skipping tags and whole elements, and decoding entities.</summary>
internal ref partial struct ContentNormalizer
{
    /// <summary>The longest reference name read (HTML's longest, <c>CounterClockwiseContourIntegral</c>, has 31 characters).</summary>
    private const int MaxReferenceName = 32;

    private static readonly System.Buffers.SearchValues<char> s_nameChars =
        System.Buffers.SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>Skips a tag, comment, or script or style element at <paramref name="i"/>; false when the <c>&lt;</c> starts no tag.</summary>
    private bool TrySkipTag(ReadOnlySpan<char> text, ref int i)
    {
        ReadOnlySpan<char> rest = text[(i + 1)..];
        if (rest.IsEmpty || !(char.IsAsciiLetter(rest[0]) || rest[0] is '/' or '!' or '?'))
        {
            return false;
        }

        if (rest.StartsWith("!--", StringComparison.Ordinal))
        {
            // Browsers end a comment at "-->" and at "--!>" too; text after either is shown.
            int close = rest.IndexOf("-->", StringComparison.Ordinal);
            int bang = rest.IndexOf("--!>", StringComparison.Ordinal);
            if (bang >= 0 && (close < 0 || bang < close))
            {
                i += 1 + bang + 4;
            }
            else
            {
                i = close < 0 ? text.Length : i + 1 + close + 3;
            }

            return true;
        }

        if (rest[0] is '!' or '?')
        {
            // <!DOCTYPE>, <![CDATA[...]]>, <?xml ...?>: to a browser reading HTML a bogus comment up to the first '>',
            // hidden and splitting no word.
            int bogusEnd = rest.IndexOf('>');
            i = bogusEnd < 0 ? text.Length : i + 1 + bogusEnd + 1;
            return true;
        }

        int nameStart = rest[0] == '/' ? 1 : 0;
        int nameLength = 0;
        while (nameStart + nameLength < rest.Length && char.IsAsciiLetterOrDigit(rest[nameStart + nameLength]))
        {
            nameLength++;
        }

        ReadOnlySpan<char> name = rest.Slice(nameStart, nameLength);
        int end = TagEnd(rest, nameStart + nameLength);
        i = end < 0 ? text.Length : i + 1 + end + 1;
        if (nameStart == 0 && IsHiddenElement(name))
        {
            SkipElement(text, ref i, name);
        }
        else if (nameStart == 0 && name.Equals("textarea", StringComparison.OrdinalIgnoreCase))
        {
            ReadTextArea(text, ref i);
            return true;
        }

        if (!IsInline(name))
        {
            EndLine();
        }

        return true;
    }

    /// <summary>
    /// Where a tag ends: the first '>' outside a quoted attribute value. <c>&lt;p title="a&gt;b"&gt;</c> is one tag to a
    /// browser, and "b" is never shown; ending it at the first '>' read the rest of the value as text.
    /// </summary>
    private static int TagEnd(ReadOnlySpan<char> rest, int from)
    {
        bool afterEquals = false;
        for (int k = from; k < rest.Length; k++)
        {
            char c = rest[k];
            if (c == '>')
            {
                return k;
            }

            if (afterEquals && c is '"' or '\'')
            {
                int close = rest[(k + 1)..].IndexOf(c);
                if (close < 0)
                {
                    return -1;
                }

                k += 1 + close;
                afterEquals = false;
                continue;
            }

            if (c == '=')
            {
                afterEquals = true;
            }
            else if (!char.IsWhiteSpace(c))
            {
                afterEquals = false;
            }
        }

        return -1;
    }

    /// <summary>
    /// Reads a <c>textarea</c>'s content as a reader sees it: a box of plain text, up to the first <c>&lt;/textarea</c>.
    /// A browser shows <c>&lt;b&gt;</c>, <c>&lt;!--</c> or <c>&lt;script&gt;</c> in it as written, so none of them may
    /// hide text from the fingerprints, least of all text after the box.
    /// </summary>
    private void ReadTextArea(ReadOnlySpan<char> text, ref int i)
    {
        EndLine();
        int close = text[i..].IndexOf("</textarea", StringComparison.OrdinalIgnoreCase);
        int contentEnd = close < 0 ? text.Length : i + close;
        Read(text[i..contentEnd], markup: false);
        EndLine();
        int end = close < 0 ? -1 : text[contentEnd..].IndexOf('>');
        i = end < 0 ? text.Length : contentEnd + end + 1;
    }

    private static void SkipElement(ReadOnlySpan<char> text, ref int i, ReadOnlySpan<char> name)
    {
        while (i < text.Length)
        {
            int open = text[i..].IndexOf("</", StringComparison.Ordinal);
            if (open < 0)
            {
                i = text.Length;
                return;
            }

            i += open + 2;
            if (text[i..].StartsWith(name, StringComparison.OrdinalIgnoreCase))
            {
                int end = text[i..].IndexOf('>');
                i = end < 0 ? text.Length : i + end + 1;
                return;
            }
        }
    }

    /// <summary>
    /// Elements whose content no reader sees: script and style, a document's <c>title</c> (and an SVG's, a tooltip) and
    /// a <c>template</c>. Per-copy random words in them would make every copy a new text.
    /// </summary>
    private static bool IsHiddenElement(ReadOnlySpan<char> name)
        => name.Equals("script", StringComparison.OrdinalIgnoreCase) || name.Equals("style", StringComparison.OrdinalIgnoreCase)
           || name.Equals("title", StringComparison.OrdinalIgnoreCase) || name.Equals("template", StringComparison.OrdinalIgnoreCase);

    private static bool IsInline(ReadOnlySpan<char> name)
    {
        Span<char> lower = stackalloc char[8];
        if (name.Length > lower.Length)
        {
            return false;
        }

        lower = lower[..name.ToLowerInvariant(lower)];
        return lower switch
        {
            "a" or "b" or "i" or "u" or "s" or "em" or "strong" or "span" or "font" or "small" or "big" or "sub" or "sup"
                or "mark" or "abbr" or "code" or "strike" or "wbr" or "ins" or "del" or "q" or "cite" or "o"

                // Mail clients run no scripts, so they show a noscript's content, inline: it must not split a word.
                or "noscript" => true,
            _ => false,
        };
    }

    /// <summary>Decodes a character reference at <paramref name="i"/>; false when the <c>&amp;</c> starts none.</summary>
    /// <remarks>
    /// Numeric references are read as browsers read them, with any number of leading zeros and without a closing
    /// semicolon (<c>&amp;#x0000000050;</c> and <c>&amp;#112lease</c> render as <c>P</c> and <c>please</c>), so an attacker
    /// cannot spell a word in references that show the letter to readers but a number to the fingerprints.
    /// </remarks>
    private static bool TryDecodeEntity(ReadOnlySpan<char> text, ref int i, out int decoded)
    {
        decoded = ' ';
        ReadOnlySpan<char> rest = text[(i + 1)..];
        if (rest.Length > 1 && rest[0] == '#')
        {
            bool hex = (rest[1] | 0x20) == 'x';
            int start = hex ? 2 : 1;
            int end = start;
            int code = 0;
            while (end < rest.Length && (hex ? char.IsAsciiHexDigit(rest[end]) : char.IsAsciiDigit(rest[end])))
            {
                // Past U+10FFFF the value no longer matters: it is no character, and it must not overflow.
                code = Math.Min((code * (hex ? 16 : 10)) + HexValue(rest[end]), 0x110000);
                end++;
            }

            if (end == start)
            {
                return false;
            }

            // Invalid code points (surrogates, beyond U+10FFFF) separate words like any symbol does; references to C1
            // controls are the Windows-1252 characters browsers show for them (&#150; is a dash, &#154; an š).
            decoded = code is >= 0x80 and <= 0x9F ? Windows1252[code - 0x80] : Rune.IsValid(code) && code > 0 ? code : ' ';
            i += 1 + end + (end < rest.Length && rest[end] == ';' ? 1 : 0);
            return true;
        }

        int semicolon = rest[..Math.Min(rest.Length, MaxReferenceName + 1)].IndexOf(';');
        if (semicolon <= 0 || rest[..semicolon].ContainsAnyExcept(s_nameChars))
        {
            // No reference: "Tom & Jerry; ..." is text, and must not lose "Jerry".
            return false;
        }

        decoded = NamedReference(rest[..semicolon]);
        i += semicolon + 2;
        return true;
    }

    /// <summary>
    /// What a named reference shows. Invisible ones (<c>&amp;ZeroWidthSpace;</c>, <c>&amp;NoBreak;</c>, ...) are
    /// dropped like the characters they stand for, and an accented Latin letter (<c>&amp;eacute;</c>) is its letter, so
    /// that writing a character as a reference or as itself, per copy, makes no new text. Others separate words.
    /// </summary>
    private static int NamedReference(ReadOnlySpan<char> name) => name switch
    {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "shy" or "zwsp" or "zwnj" or "zwj" or "lrm" or "rlm" or "ZeroWidthSpace" or "NegativeVeryThinSpace" or "NegativeThinSpace"
            or "NegativeMediumSpace" or "NegativeThickSpace" or "NoBreak" or "it" or "InvisibleTimes" or "ic" or "InvisibleComma"
            or "af" or "ApplyFunction" => '\u00AD',
        "szlig" => '\u00DF',
        _ => AccentedLetter(name),
    };

    /// <summary>
    /// The letter of an accented-letter reference (<c>eacute</c>, <c>Ntilde</c>, <c>ccedil</c>, <c>oslash</c>...), else a
    /// separator. <c>sdot</c> and <c>tdot</c> are operators, not letters.
    /// </summary>
    private static int AccentedLetter(ReadOnlySpan<char> name)
        => name.Length > 1 && char.IsAsciiLetter(name[0]) && name is not "sdot" and not "tdot"
           && name[1..] is "acute" or "grave" or "circ" or "uml" or "tilde" or "ring" or "cedil" or "slash" or "caron" or "macr" or "breve" or "ogon" or "dot" or "dblac"
            ? name[0]
            : ' ';

    /// <summary>What HTML shows for a numeric reference from 0x80 to 0x9F; the five holes in Windows-1252 stay controls.</summary>
    private static ReadOnlySpan<char> Windows1252 =>
        "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F"
        + "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";

    private static int HexValue(char digit) => digit <= '9' ? digit - '0' : (digit | 0x20) - 'a' + 10;
}
