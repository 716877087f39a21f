using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// The script of a letter or digit, told by code point ranges (.NET has no script property), for <see cref="Lookalikes"/>:
/// the scripts whose letters look like Latin ones by name, every other script of the Basic Multilingual Plane by its
/// Unicode block (a script's supplement blocks with it), and any letter beyond that plane as <see cref="Other"/>.
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

    /// <summary>A letter or digit beyond the Basic Multilingual Plane of a script not named above.</summary>
    public const int Other = 12;

    /// <summary>The script of the first block in <see cref="BlockStarts"/>; each block after it has the next value.</summary>
    private const int FirstBlock = 13;

    /// <summary>How many script values there are.</summary>
    public static int Count => FirstBlock + BlockStarts.Length;

    /// <summary>
    /// Where each Unicode block of the Basic Multilingual Plane from Syriac on starts (Blocks.txt, Unicode 15.1), so that
    /// a letter of a script not named above is told by its block: Thaana from NKo, Glagolitic from Coptic, Vai from Lisu.
    /// </summary>
    private static ReadOnlySpan<ushort> BlockStarts =>
    [
        0x0700, 0x0750, 0x0780, 0x07C0, 0x0800, 0x0840, 0x0860, 0x0870, 0x08A0, 0x0900, 0x0980, 0x0A00, 0x0A80, 0x0B00,
        0x0B80, 0x0C00, 0x0C80, 0x0D00, 0x0D80, 0x0E00, 0x0E80, 0x0F00, 0x1000, 0x10A0, 0x1100, 0x1200, 0x1380, 0x13A0,
        0x1400, 0x1680, 0x16A0, 0x1700, 0x1720, 0x1740, 0x1760, 0x1780, 0x1800, 0x18B0, 0x1900, 0x1950, 0x1980, 0x19E0,
        0x1A00, 0x1A20, 0x1AB0, 0x1B00, 0x1B80, 0x1BC0, 0x1C00, 0x1C50, 0x1C80, 0x1C90, 0x1CC0, 0x1CD0, 0x1D00, 0x1D80,
        0x1DC0, 0x1E00, 0x1F00, 0x2000, 0x2070, 0x20A0, 0x20D0, 0x2100, 0x2150, 0x2190, 0x2200, 0x2300, 0x2400, 0x2440,
        0x2460, 0x2500, 0x2580, 0x25A0, 0x2600, 0x2700, 0x27C0, 0x27F0, 0x2800, 0x2900, 0x2980, 0x2A00, 0x2B00, 0x2C00,
        0x2C60, 0x2C80, 0x2D00, 0x2D30, 0x2D80, 0x2DE0, 0x2E00, 0x2E80, 0x2F00, 0x2FE0, 0x2FF0, 0x3000, 0x3040, 0x30A0,
        0x3100, 0x3130, 0x3190, 0x31A0, 0x31C0, 0x31F0, 0x3200, 0x3300, 0x3400, 0x4DC0, 0x4E00, 0xA000, 0xA490, 0xA4D0,
        0xA500, 0xA640, 0xA6A0, 0xA700, 0xA720, 0xA800, 0xA830, 0xA840, 0xA880, 0xA8E0, 0xA900, 0xA930, 0xA960, 0xA980,
        0xA9E0, 0xAA00, 0xAA60, 0xAA80, 0xAAE0, 0xAB00, 0xAB30, 0xAB70, 0xABC0, 0xAC00, 0xD7B0, 0xD800, 0xE000, 0xF900,
        0xFB00, 0xFB50, 0xFE00, 0xFE10, 0xFE20, 0xFE30, 0xFE50, 0xFE70, 0xFF00, 0xFFF0,
    ];

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
            > 0xFFFF => Other,

            // Latin ligatures (ﬁ) imitate the letters they join. The Vedic signs and the Indic number forms are
            // Common: each goes with several scripts of India.
            >= 0xFB00 and <= 0xFB06 => Imitation,
            >= 0x1CD0 and <= 0x1CFF or >= 0xA830 and <= 0xA83F => None,

            // A script's supplement blocks are the script's own.
            >= 0x0860 and <= 0x086F => Block(0x0700), // Syriac Supplement
            >= 0x18B0 and <= 0x18FF => Block(0x1400), // Unified Canadian Aboriginal Syllabics Extended
            >= 0x19E0 and <= 0x19FF => Block(0x1780), // Khmer Symbols
            >= 0x1CC0 and <= 0x1CCF => Block(0x1B80), // Sundanese Supplement
            >= 0xA8E0 and <= 0xA8FF => Block(0x0900), // Devanagari Extended
            >= 0xA9E0 and <= 0xA9FF or >= 0xAA60 and <= 0xAA7F => Block(0x1000), // Myanmar Extended-B and -A
            >= 0xAAE0 and <= 0xAAFF => Block(0xABC0), // Meetei Mayek Extensions
            _ => Block(c),
        };
    }

    /// <summary>The script of the block <paramref name="c"/> (U+0700 or beyond, in the Basic Multilingual Plane) is in.</summary>
    private static int Block(int c)
    {
        int index = BlockStarts.BinarySearch((ushort)c);
        return FirstBlock + (index >= 0 ? index : ~index - 1);
    }
}
