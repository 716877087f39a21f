using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>The markup steps of the normalizer: skipping tags and whole elements, and decoding entities.</summary>
internal ref partial struct ContentNormalizer
{
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
            int close = rest.IndexOf("-->", StringComparison.Ordinal);
            i = close < 0 ? text.Length : i + 1 + close + 3;
            return true;
        }

        int nameStart = rest[0] == '/' ? 1 : 0;
        int nameLength = 0;
        while (nameStart + nameLength < rest.Length && char.IsAsciiLetterOrDigit(rest[nameStart + nameLength]))
        {
            nameLength++;
        }

        ReadOnlySpan<char> name = rest.Slice(nameStart, nameLength);
        int end = rest.IndexOf('>');
        i = end < 0 ? text.Length : i + 1 + end + 1;
        if (nameStart == 0 && (name.Equals("script", StringComparison.OrdinalIgnoreCase) || name.Equals("style", StringComparison.OrdinalIgnoreCase)))
        {
            SkipElement(text, ref i, name);
        }

        if (!IsInline(name))
        {
            EndLine();
        }

        return true;
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
                or "mark" or "abbr" or "code" or "strike" or "wbr" or "ins" or "del" or "q" or "cite" or "o" => true,
            _ => false,
        };
    }

    /// <summary>Decodes a character reference at <paramref name="i"/>; false when the <c>&amp;</c> starts none.</summary>
    private static bool TryDecodeEntity(ReadOnlySpan<char> text, ref int i, out int decoded)
    {
        decoded = ' ';
        ReadOnlySpan<char> rest = text[(i + 1)..];
        int semicolon = rest[..Math.Min(rest.Length, 12)].IndexOf(';');
        if (semicolon <= 0)
        {
            return false;
        }

        ReadOnlySpan<char> entity = rest[..semicolon];
        if (entity[0] == '#')
        {
            bool hex = entity.Length > 1 && (entity[1] | 0x20) == 'x';
            ReadOnlySpan<char> digits = entity[(hex ? 2 : 1)..];
            if (!int.TryParse(digits, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out int code))
            {
                return false;
            }

            // Invalid code points (surrogates, beyond U+10FFFF) separate words like any symbol does.
            decoded = Rune.IsValid(code) && code > 0 ? code : ' ';
        }
        else
        {
            decoded = entity switch
            {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "shy" or "zwsp" or "zwnj" or "zwj" => '\u00AD',
                _ => ' ',
            };
        }

        i += semicolon + 2;
        return true;
    }
}
