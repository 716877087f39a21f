using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>
/// The Unicode equivalences the normalizer folds before either fingerprint is taken, so that text which renders alike
/// reads alike: a precomposed letter and the same letter written with combining marks (NFC and NFD), letters styled
/// with the mathematical alphanumeric symbols (<c>𝐯𝐞𝐫𝐢𝐟𝐲</c>), and invisible code points that Unicode lists as
/// default-ignorable but that are letters (the Hangul fillers) rather than format characters.
/// </summary>
/// <remarks>
/// Both tables are built once from the runtime's Unicode data; a lookup allocates nothing.
/// </remarks>
internal static class UnicodeFolding
{
    private const char DecomposedFirst = '\u00C0';
    private const char DecomposedLast = '\u1FFF';
    private const int MathFirst = 0x1D400;
    private const int MathLast = 0x1D7FF;

    /// <summary>The base letter of each precomposed letter from U+00C0 to U+1FFF (Latin, Greek, Cyrillic, ...), else the letter.</summary>
    private static readonly char[] s_baseLetters = BaseLetters();

    /// <summary>The plain letter or digit of each mathematical alphanumeric symbol, or <c>\0</c>.</summary>
    private static readonly char[] s_mathLetters = MathLetters();

    /// <summary>
    /// The letter without its accents: the first character of its canonical decomposition when the rest are combining
    /// marks (which the normalizer drops anyway), so <c>ř</c> reads like <c>r</c> followed by a dropped háček.
    /// </summary>
    public static char BaseLetter(char c) => c is >= DecomposedFirst and <= DecomposedLast ? s_baseLetters[c - DecomposedFirst] : c;

    /// <summary>Whether <paramref name="c"/> is an invisible letter (Hangul fillers, default-ignorable) or an unassigned specials code point.</summary>
    public static bool IsIgnorable(char c) => c is '\u115F' or '\u1160' or '\u3164' or '\uFFA0' or (>= '\uFFF0' and <= '\uFFF8');

    /// <summary>The plain letter or digit a mathematical alphanumeric symbol styles, or <c>\0</c> for other code points.</summary>
    public static char MathLetter(int codePoint) => codePoint is >= MathFirst and <= MathLast ? s_mathLetters[codePoint - MathFirst] : '\0';

    private static char[] BaseLetters()
    {
        char[] letters = new char[DecomposedLast - DecomposedFirst + 1];
        for (int i = 0; i < letters.Length; i++)
        {
            char c = (char)(DecomposedFirst + i);
            letters[i] = c;
            if (!char.IsLetter(c))
            {
                continue;
            }

            string decomposed = c.ToString().Normalize(NormalizationForm.FormD);
            if (decomposed.Length > 1 && char.IsLetter(decomposed[0]) && AreMarks(decomposed.AsSpan(1)))
            {
                letters[i] = decomposed[0];
            }
        }

        return letters;
    }

    /// <summary>Whether every character is a mark the normalizer drops.</summary>
    private static bool AreMarks(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark))
            {
                return false;
            }
        }

        return true;
    }

    private static char[] MathLetters()
    {
        char[] letters = new char[MathLast - MathFirst + 1];
        for (int i = 0; i < letters.Length; i++)
        {
            int codePoint = MathFirst + i;
            if (!Rune.IsValid(codePoint) || !Rune.IsLetterOrDigit(new Rune(codePoint)))
            {
                continue;
            }

            string plain = char.ConvertFromUtf32(codePoint).Normalize(NormalizationForm.FormKC);
            if (plain.Length == 1 && char.IsLetterOrDigit(plain[0]))
            {
                letters[i] = plain[0];
            }
        }

        return letters;
    }
}
