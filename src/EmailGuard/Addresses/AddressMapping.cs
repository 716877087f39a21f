using System.Buffers;
using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>
/// The character-level half of address normalization: the UTS #46 mapping steps that <see cref="IdnMapping"/> does not
/// do before we need them, or does not do at all under invariant globalization.
/// </summary>
/// <remarks>
/// UTS #46 maps a domain before it splits labels: fullwidth letters to ASCII, the ideographic and halfwidth full stops
/// (U+3002, U+FF0E, U+FF61) to <c>.</c>, compatibility characters by NFKC, and upper to lower case. Doing the same
/// here, before any dot is trimmed or any label compared, is what makes <c>example.com。</c> the same domain as
/// <c>example.com</c>. The local part gets the same width, compatibility and case folding (it only ever merges a
/// spelling into the ASCII mailbox it looks like, never splits one mailbox into two keys).
/// </remarks>
internal static class AddressMapping
{
    /// <summary>
    /// Whether this process can apply Unicode normalization. Under <c>InvariantGlobalization</c> it cannot, and
    /// <see cref="string.Normalize(NormalizationForm)"/> returns its input unchanged, so non-ASCII text that only NFKC
    /// would fold is refused instead of being given a key of its own.
    /// </summary>
    public static readonly bool CanNormalizeUnicode = Probe();

    private const char FullwidthFirst = '\uFF01';
    private const char FullwidthLast = '\uFF5E';
    private const int FullwidthOffset = 0xFEE0;

    /// <summary>Whether <paramref name="c"/> is a full stop that UTS #46 maps to <c>.</c>.</summary>
    public static bool IsUnicodeDot(char c) => c is '.' or '\u3002' or '\uFF0E' or '\uFF61';

    /// <summary>
    /// Finds a character no one types into an address field: controls (NUL, CR, LF), format characters (bidi
    /// overrides, zero-width spaces and joiners, soft hyphen, BOM), line and paragraph separators, lone surrogates,
    /// private-use and unassigned code points, and the marks UTS #46 ignores (combining grapheme joiner, variation
    /// selectors). Inner white space counts too.
    /// </summary>
    /// <returns>The reason, or <see langword="null"/> when every character is acceptable.</returns>
    public static string? FindForbiddenCharacter(ReadOnlySpan<char> text)
    {
        int i = 0;
        while (i < text.Length)
        {
            if (Rune.DecodeFromUtf16(text[i..], out Rune rune, out int consumed) != OperationStatus.Done)
            {
                return "The address contains a broken (unpaired surrogate) character.";
            }

            if (IsForbidden(rune))
            {
                return rune.IsAscii || Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control
                    ? "The address contains a control character or white space."
                    : string.Create(CultureInfo.InvariantCulture, $"The address contains an invisible, formatting or unassigned character (U+{rune.Value:X4}).");
            }

            i += consumed;
        }

        return null;
    }

    /// <summary>
    /// Maps text the way UTS #46 maps a domain: fullwidth forms to ASCII, Unicode full stops to <c>.</c> and the few
    /// characters UTS #46 maps otherwise than lower case does (when <paramref name="mapDots"/>, that is for a domain),
    /// NFKC where the runtime supports it, then lower case.
    /// </summary>
    public static string Map(string text, bool mapDots)
    {
        string mapped = MapWidthAndDots(text, mapDots);
        if (mapDots && !Ascii.IsValid(mapped))
        {
            mapped = MapWhereUts46DiffersFromLowerCase(mapped);
        }

        if (!Ascii.IsValid(mapped) && CanNormalizeUnicode)
        {
            mapped = mapped.Normalize(NormalizationForm.FormKC);
            if (mapDots)
            {
                mapped = MapWidthAndDots(mapped, mapDots);
            }
        }

        mapped = mapped.ToLowerInvariant();
        if (!Ascii.IsValid(mapped) && CanNormalizeUnicode && !mapped.IsNormalized(NormalizationForm.FormC))
        {
            mapped = mapped.Normalize(NormalizationForm.FormC);
        }

        return mapped;
    }

    /// <summary>
    /// Folds any text, valid address or not, as far as it can: forbidden and invisible characters dropped, then
    /// <see cref="Map"/> with every Unicode full stop and the fullwidth <c>＠</c> mapped. Used for values that are not
    /// a valid address, so that their look-alike spellings still share one key.
    /// </summary>
    public static string FoldLoosely(string text)
    {
        StringBuilder builder = new(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int consumed) == OperationStatus.Done && !IsForbidden(rune))
            {
                builder.Append(text, i, consumed);
            }

            i += consumed;
        }

        return Map(builder.ToString(), mapDots: true);
    }

    private static bool IsForbidden(Rune rune)
    {
        if (Rune.IsWhiteSpace(rune))
        {
            return true;
        }

        if (rune.IsAscii)
        {
            return Rune.IsControl(rune);
        }

        int value = rune.Value;
        if (value == 0x034F || value is >= 0x180B and <= 0x180F || value is >= 0xFE00 and <= 0xFE0F || value is >= 0xE0100 and <= 0xE01EF)
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    /// <summary>
    /// The characters whose UTS #46 mapping is not what NFKC and lower case make of them, found by comparing every code
    /// point with <see cref="IdnMapping"/> under ICU: the capital sharp s <c>ẞ</c> (U+1E9E) is <c>ss</c>, not <c>ß</c>,
    /// and the lunate sigma (U+03F2) and the five mathematical final sigmas (U+1D6D3 …) are <c>σ</c>, not the final
    /// <c>ς</c> that NFKC gives. A resolver sends <c>victim@STRAẞE.de</c> to <c>strasse.de</c>; mapped to <c>ß</c> first,
    /// it was keyed as <c>straße.de</c>, a domain of its own, so three mails to each spelling passed a cap of three.
    /// </summary>
    private static string MapWhereUts46DiffersFromLowerCase(string text)
    {
        if (text.AsSpan().IndexOfAny('\u1E9E', '\u03F2', '\uD835') < 0)
        {
            return text;
        }

        StringBuilder builder = new(text.Length + 1);
        int i = 0;
        while (i < text.Length)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out Rune rune, out int consumed) != OperationStatus.Done)
            {
                builder.Append(text, i, consumed);
            }
            else if (rune.Value == 0x1E9E)
            {
                builder.Append("ss");
            }
            else if (rune.Value is 0x03F2 or 0x1D6D3 or 0x1D70D or 0x1D747 or 0x1D781 or 0x1D7BB)
            {
                builder.Append('\u03C3');
            }
            else
            {
                builder.Append(text, i, consumed);
            }

            i += consumed;
        }

        return builder.ToString();
    }

    private static string MapWidthAndDots(string text, bool mapDots)
    {
        int first = -1;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is >= FullwidthFirst and <= FullwidthLast || (mapDots && c is '\u3002' or '\uFF61'))
            {
                first = i;
                break;
            }
        }

        if (first < 0)
        {
            return text;
        }

        return string.Create(text.Length, (text, first, mapDots), static (span, state) =>
        {
            state.text.AsSpan().CopyTo(span);
            for (int i = state.first; i < span.Length; i++)
            {
                char c = span[i];
                if (c is >= FullwidthFirst and <= FullwidthLast)
                {
                    span[i] = (char)(c - FullwidthOffset);
                }
                else if (state.mapDots && c is '\u3002' or '\uFF61')
                {
                    span[i] = '.';
                }
            }
        });
    }

    private static bool Probe()
    {
        try
        {
            return string.Equals("\uFB01\uFF21".Normalize(NormalizationForm.FormKC), "fiA", StringComparison.Ordinal);
        }
        catch (PlatformNotSupportedException)
        {
            return false;
        }
    }
}
