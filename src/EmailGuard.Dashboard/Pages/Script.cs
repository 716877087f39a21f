using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// The script of a letter or digit, told by code point ranges (.NET has no script property), for <see cref="Lookalikes"/>:
/// the scripts whose letters look like Latin ones by name, the scripts of India and South-East Asia each by its block,
/// and any other letter as <see cref="Other"/>.
/// </summary>
internal static class Script
{
    /// <summary>Not a letter or digit of a script: an ASCII digit, a mark, a format character, punctuation.</summary>
    public const int None = 0;

    /// <summary>Latin: ASCII letters, Latin-1 letters, Latin Extended-A to -E and Latin Extended Additional.</summary>
    public const int Latin = 1;

    /// <summary>Han, kana, Bopomofo and Hangul: Unicode's "highly restrictive" profile lets each go with Latin.</summary>
    public const int EastAsian = 2;

    /// <summary>
    /// Letters that only imitate Latin ones: fullwidth Latin letters and digits, mathematical alphanumerics, IPA and
    /// phonetic letters (small capitals, <c>ɑ</c>), superscript modifier letters (<c>ʰ</c>), superscripts and subscripts, letterlike symbols
    /// (the Kelvin sign), Roman numerals and enclosed alphanumerics.
    /// </summary>
    public const int Imitation = 3;

    public const int Greek = 4;

    public const int Cyrillic = 5;

    public const int Armenian = 6;

    public const int Hebrew = 7;

    public const int Arabic = 8;

    public const int Georgian = 9;

    public const int Ethiopic = 10;

    public const int Cherokee = 11;

    /// <summary>Any other letter or digit; the scripts from Syriac to Myanmar (U+0700-U+109F) are told apart by block below.</summary>
    public const int Other = 12;

    /// <summary>The first of the 128-code-point blocks from U+0700 to U+109F (Syriac, Thaana, Devanagari … Thai, Lao, Tibetan, Myanmar).</summary>
    private const int FirstBlock = 13;

    /// <summary>How many script values there are.</summary>
    public const int Count = FirstBlock + ((0x10A0 - 0x0700) >> 7) + 1;

    /// <summary>The script of <paramref name="rune"/>, or <see cref="None"/>.</summary>
    public static int Of(Rune rune)
    {
        int c = rune.Value;
        if (c < 0x80)
        {
            return char.IsAsciiLetter((char)c) ? Latin : None;
        }

        if (!Rune.IsLetterOrDigit(rune) && Rune.GetUnicodeCategory(rune) is not (System.Globalization.UnicodeCategory.LetterNumber or System.Globalization.UnicodeCategory.OtherNumber))
        {
            return None;
        }

        return c switch
        {
            <= 0x024F => Latin,

            // Spacing modifier letters: the superscript Latin ones imitate letters; the accents and tone letters
            // (ˋ, which the Slack alerts write for a backtick, ˈ, ˌ) are Common, as punctuation is.
            <= 0x02B8 or (>= 0x02E0 and <= 0x02E4) => Imitation,
            <= 0x02FF => None,
            >= 0x0370 and <= 0x03FF => Greek,
            >= 0x0400 and <= 0x052F => Cyrillic,
            >= 0x0530 and <= 0x058F => Armenian,
            >= 0x0590 and <= 0x05FF => Hebrew,
            >= 0x0600 and <= 0x06FF or >= 0x0750 and <= 0x077F or >= 0x0870 and <= 0x08FF => Arabic,
            >= 0x0700 and <= 0x109F => FirstBlock + ((c - 0x0700) >> 7),
            >= 0x10A0 and <= 0x10FF or >= 0x1C90 and <= 0x1CBF or >= 0x2D00 and <= 0x2D2F => Georgian,
            >= 0x1100 and <= 0x11FF => EastAsian,
            >= 0x1200 and <= 0x139F or >= 0x2D80 and <= 0x2DDF or >= 0xAB00 and <= 0xAB2F => Ethiopic,
            >= 0x13A0 and <= 0x13FF or >= 0xAB70 and <= 0xABBF => Cherokee,
            >= 0x1C80 and <= 0x1C8F or >= 0x2DE0 and <= 0x2DFF or >= 0xA640 and <= 0xA69F => Cyrillic,
            >= 0x1D00 and <= 0x1DBF => Imitation,
            >= 0x1E00 and <= 0x1EFF => Latin,
            >= 0x1F00 and <= 0x1FFF => Greek,
            >= 0x2070 and <= 0x209F or >= 0x2100 and <= 0x218F or >= 0x2460 and <= 0x24FF => Imitation,
            >= 0x2C60 and <= 0x2C7F or >= 0xA720 and <= 0xA7FF or >= 0xAB30 and <= 0xAB6F => Latin,
            >= 0x2E80 and <= 0x2FDF or >= 0x3000 and <= 0x31FF or >= 0x3400 and <= 0x4DBF or >= 0x4E00 and <= 0x9FFF => EastAsian,
            >= 0xA960 and <= 0xA97F or >= 0xAC00 and <= 0xD7FF or >= 0xF900 and <= 0xFAFF => EastAsian,
            >= 0xFB13 and <= 0xFB17 => Armenian,
            >= 0xFB1D and <= 0xFB4F => Hebrew,
            >= 0xFB50 and <= 0xFDFF or >= 0xFE70 and <= 0xFEFF => Arabic,
            >= 0xFF10 and <= 0xFF19 or >= 0xFF21 and <= 0xFF3A or >= 0xFF41 and <= 0xFF5A => Imitation,
            >= 0xFF66 and <= 0xFFDC => EastAsian,
            >= 0x1D400 and <= 0x1D7FF or >= 0x1F100 and <= 0x1F1FF => Imitation,
            >= 0x20000 and <= 0x3FFFF => EastAsian,
            _ => Other,
        };
    }
}
