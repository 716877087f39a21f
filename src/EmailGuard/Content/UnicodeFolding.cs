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
/// <para>
/// Compatibility characters fold like NFKC folds them, one code point at a time: ligatures (<c>ﬁ</c> reads <c>fi</c>),
/// full-width and half-width forms, the Kelvin and Angstrom signs, long s, modifier and superscript letters, circled and
/// squared letters, Roman numerals. The dotless <c>ı</c> and <c>ȷ</c>, which NFKC keeps, read as <c>i</c> and <c>j</c>,
/// as a dotted capital <c>İ</c> already does. A symbol folds only when it stands for one letter or digit (<c>Ⓐ</c>),
/// so <c>™</c> and <c>№</c> still separate words as they did.
/// </para>
/// <para>
/// The tables are built once from the runtime's Unicode data; a lookup allocates nothing.
/// </para>
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

    /// <summary>The compatibility folds (<see cref="Compatibility"/>), in blocks of 256 code points.</summary>
    private static readonly CompatibilityTable s_compatibility = CompatibilityTable.Build();

    /// <summary>
    /// The letter without its accents: the first character of its canonical decomposition when the rest are combining
    /// marks (which the normalizer drops anyway), so <c>ř</c> reads like <c>r</c> followed by a dropped háček.
    /// </summary>
    public static char BaseLetter(char c) => c is >= DecomposedFirst and <= DecomposedLast ? s_baseLetters[c - DecomposedFirst] : c;

    /// <summary>Whether <paramref name="c"/> is an invisible letter (Hangul fillers, default-ignorable) or an unassigned specials code point.</summary>
    public static bool IsIgnorable(char c) => c is '\u115F' or '\u1160' or '\u3164' or '\uFFA0' or (>= '\uFFF0' and <= '\uFFF8');

    /// <summary>The plain letter or digit a mathematical alphanumeric symbol styles, or <c>\0</c> for other code points.</summary>
    public static char MathLetter(int codePoint) => codePoint is >= MathFirst and <= MathLast ? s_mathLetters[codePoint - MathFirst] : '\0';

    /// <summary>
    /// What a compatibility character reads as (<c>ﬁ</c>: <c>fi</c>, <c>Ａ</c>: <c>A</c>, <c>K</c> (Kelvin): <c>K</c>), or
    /// empty when <paramref name="codePoint"/> reads as itself. The characters of a fold fold no further.
    /// </summary>
    public static ReadOnlySpan<char> Compatibility(int codePoint) => s_compatibility.Lookup(codePoint);

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

    /// <summary>A two-level table: a block number per 256 code points, then an offset per code point into one string.</summary>
    private sealed class CompatibilityTable
    {
        /// <summary>Code points from here on fold as themselves; plane 2 holds only the CJK compatibility ideographs below it.</summary>
        private const int Limit = 0x2FA20;

        private readonly ushort[] _blocks;
        private readonly ushort[] _entries;
        private readonly string _folds;

        private CompatibilityTable(ushort[] blocks, ushort[] entries, string folds)
        {
            _blocks = blocks;
            _entries = entries;
            _folds = folds;
        }

        public ReadOnlySpan<char> Lookup(int codePoint)
        {
            if ((uint)codePoint >= Limit)
            {
                return default;
            }

            int block = _blocks[codePoint >> 8];
            if (block == 0)
            {
                return default;
            }

            int offset = _entries[((block - 1) << 8) | (codePoint & 0xFF)];
            return offset == 0 ? default : _folds.AsSpan(offset + 1, _folds[offset]);
        }

        public static CompatibilityTable Build()
        {
            ushort[] blocks = new ushort[(Limit + 0xFF) >> 8];
            List<ushort> entries = [];
            StringBuilder folds = new("\0");
            Span<char> source = stackalloc char[2];
            Span<char> folded = stackalloc char[32];
            // Skipped: the CJK ideographs (U+3400 to U+9FFF) and Hangul syllables (U+AC00 to U+D7A3), which read as themselves
            // and would be three quarters of the work (12 ms against 3): the table is built on the first check that carries content.
            ReadOnlySpan<(int First, int Last)> ranges = [(0x00A0, 0x33FF), (0xA000, 0xABFF), (0xD7A4, 0xFFFF), (0x10000, 0x1FFFF), (0x2F800, Limit - 1)];
            foreach ((int first, int last) in ranges)
            {
                for (int codePoint = first; codePoint <= last; codePoint++)
                {
                    if (codePoint is >= 0xD800 and <= 0xDFFF || !Folds(codePoint, source, folded, out int length))
                    {
                        continue;
                    }

                    if (folds.Length + length + 1 > ushort.MaxValue)
                    {
                        // Cannot happen with Unicode's data (about 10,000 characters); a fold that does not fit reads as itself.
                        continue;
                    }

                    int block = codePoint >> 8;
                    if (blocks[block] == 0)
                    {
                        entries.AddRange(new ushort[256]);
                        blocks[block] = (ushort)(entries.Count >> 8);
                    }

                    entries[((blocks[block] - 1) << 8) | (codePoint & 0xFF)] = (ushort)folds.Length;
                    folds.Append((char)length).Append(folded[..length]);
                }
            }

            return new CompatibilityTable(blocks, [.. entries], folds.ToString());
        }

        /// <summary>
        /// Whether a code point folds to something else: letters and numbers to their NFKC form, a symbol only when that
        /// is one letter or digit (circled letters, not <c>™</c>). Marks, punctuation and spaces are left alone: the
        /// normalizer drops or splits at them whatever they fold to.
        /// </summary>
        private static bool Folds(int codePoint, Span<char> source, Span<char> folded, out int length)
        {
            length = 0;
            if (codePoint is 0x0131 or 0x0237)
            {
                // Dotless i and j: NFKC keeps them, readers see an i and a j.
                folded[0] = codePoint == 0x0131 ? 'i' : 'j';
                length = 1;
                return true;
            }

            UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
            bool symbol = category is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol
                or UnicodeCategory.OtherSymbol;
            bool letterOrNumber = category <= UnicodeCategory.OtherLetter
                || category is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;
            if (!symbol && !letterOrNumber)
            {
                return false;
            }

            ReadOnlySpan<char> text = source[..new Rune(codePoint).EncodeToUtf16(source)];
            if (text.IsNormalized(NormalizationForm.FormKC) || !text.TryNormalize(folded, out length, NormalizationForm.FormKC))
            {
                length = 0;
                return false;
            }

            return !symbol || (length == 1 && char.IsLetterOrDigit(folded[0]));
        }
    }
}
