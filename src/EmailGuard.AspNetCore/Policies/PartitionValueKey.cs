using System.Buffers;
using System.Globalization;
using System.Text;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The value a route value, claim, header or custom key partition counts under: one spelling for every spelling the
/// app most likely treats as one value (see <see cref="PartitionValueComparison"/>). Counted raw,
/// <c>/users/Alice/invite</c>, <c>/users/ALICE/invite</c> and <c>/users/alice%20/invite</c> were three counters for one
/// user, who an app on SQL Server or ASP.NET Core Identity looks up as one, so a bot varied the case to mail one
/// victim without end.
/// </summary>
internal static class PartitionValueKey
{
    /// <summary>
    /// Whether this process can apply Unicode normalization. Under <c>InvariantGlobalization</c> it may not, and then
    /// only the case, trimming and dropping steps apply.
    /// </summary>
    private static readonly bool CanNormalizeUnicode = Probe();

    /// <summary>Folds <paramref name="value"/>; a value already folded (the usual one) is returned as it is, not copied.</summary>
    public static string Fold(string value, PartitionValueComparison comparison)
    {
        bool ignoreCase = comparison != PartitionValueComparison.CaseSensitive;
        ReadOnlySpan<char> text = value;
        if (text.IsEmpty
            || (!text.ContainsAnyExceptInRange(' ', '~') && text[0] != ' ' && text[^1] != ' ' && !(ignoreCase && text.ContainsAnyInRange('A', 'Z'))))
        {
            return value;
        }

        string folded = DropInvisible(value);
        if (Ascii.IsValid(folded))
        {
            return (ignoreCase ? folded.ToLowerInvariant() : folded).Trim();
        }

        folded = Compose(folded);
        if (ignoreCase)
        {
            // Upper then lower folds the letters whose two mappings differ (the long s, the final sigma, the Kelvin
            // sign) to the one lower-case letter their upper-case forms share, as case folding does.
            folded = Compose(folded.ToUpperInvariant().ToLowerInvariant());
        }

        return folded.Trim();
    }

    /// <summary>
    /// The longest run of combining marks kept, as in Unicode's Stream-Safe Text Format (UAX #15): a longer run is
    /// nothing a person writes, and normalization reorders a run by insertion, with work growing as its square, so a
    /// value of 16,000 alternating marks cost 300 ms per request. The marks past it are dropped, which keeps the work
    /// linear in the value's length.
    /// </summary>
    internal const int MaxCombiningMarkRun = 30;

    /// <summary>
    /// Drops control and invisible characters, unpaired surrogates and the combining marks past
    /// <see cref="MaxCombiningMarkRun"/> in a run; returns <paramref name="value"/> itself when it drops nothing.
    /// </summary>
    private static string DropInvisible(string value)
    {
        StringBuilder? builder = null;
        int run = 0;
        int i = 0;
        while (i < value.Length)
        {
            bool keep = Rune.DecodeFromUtf16(value.AsSpan(i), out Rune rune, out int consumed) == OperationStatus.Done && !IsInvisible(rune);
            if (keep)
            {
                run = IsCombining(rune) ? run + 1 : 0;
                keep = run <= MaxCombiningMarkRun;
            }

            if (!keep && builder is null)
            {
                builder = new StringBuilder(value.Length).Append(value, 0, i);
            }
            else if (keep && builder is not null)
            {
                builder.Append(value, i, consumed);
            }

            i += consumed;
        }

        return builder?.ToString() ?? value;
    }

    /// <summary>
    /// Marks, and the two halfwidth voiced sound marks that decompose to marks: what normalization reorders. Marks that
    /// never move (spacing marks of class 0) are counted too, which only makes the bound apply sooner.
    /// </summary>
    private static bool IsCombining(Rune rune)
        => rune.Value is 0xFF9E or 0xFF9F
            || Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>
    /// Controls (NUL, CR, LF, tab), format characters (zero-width spaces and joiners, bidi marks, soft hyphen, BOM),
    /// line and paragraph separators, and the rest of Unicode's default-ignorable code points (DerivedCoreProperties.txt,
    /// Default_Ignorable_Code_Point), which renderers show as nothing: the combining grapheme joiner, the Mongolian and
    /// other variation selectors, the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0, letters by category), the Khmer
    /// inherent vowels, and the code points reserved as ignorable (U+2065, U+FFF0 to U+FFF8, the whole U+E0000 block
    /// with its tags), which a later Unicode may assign and this runtime's tables not yet know. Nothing a person sees, so
    /// nothing that makes two values different to a person.
    /// </summary>
    private static bool IsInvisible(Rune rune)
    {
        int value = rune.Value;
        if (value is 0x034F or 0x115F or 0x1160 or 0x17B4 or 0x17B5 or 0x2065 or 0x3164 or 0xFFA0
            || value is >= 0x180B and <= 0x180F || value is >= 0xFE00 and <= 0xFE0F || value is >= 0xFFF0 and <= 0xFFF8
            || value is >= 0xE0000 and <= 0xE0FFF)
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
    }

    /// <summary>NFKC, where the runtime can; the text is well-formed UTF-16 here, which is all normalization needs.</summary>
    private static string Compose(string text)
        => CanNormalizeUnicode && !text.IsNormalized(NormalizationForm.FormKC) ? text.Normalize(NormalizationForm.FormKC) : text;

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
