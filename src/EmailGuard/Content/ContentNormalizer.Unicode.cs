using System.Globalization;
using System.Text;

namespace EmailGuard;

/// <summary>The normalizer's step for code points beyond the basic plane and character references (<see cref="UnicodeFolding"/>).</summary>
internal ref partial struct ContentNormalizer
{
    /// <summary>
    /// Feeds a code point from a surrogate pair or a character reference: invisible ones (tag characters, variation
    /// selectors) and private-use ones are dropped, styled and compatibility letters read as plain ones, other letters
    /// and digits stay in their word, and the rest (emoji, symbols) separate words.
    /// </summary>
    private void FeedCodePoint(int codePoint)
    {
        if (codePoint <= char.MaxValue)
        {
            Feed((char)codePoint);
            return;
        }

        if (UnicodeFolding.MathLetter(codePoint) is not '\0' and char plain)
        {
            Feed(plain);
            return;
        }

        ReadOnlySpan<char> folded = UnicodeFolding.Compatibility(codePoint);
        if (!folded.IsEmpty)
        {
            FeedFolded(folded);
            return;
        }

        Rune rune = new(codePoint);
        UnicodeCategory category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.Format or UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.PrivateUse)
        {
            return;
        }

        if (Rune.IsLetterOrDigit(rune))
        {
            Span<char> pair = stackalloc char[2];
            rune.EncodeToUtf16(pair);
            AppendTokenChar(pair[0], Rune.IsDigit(rune));
            AppendTokenChar(pair[1], false);
            return;
        }

        EndToken();
    }
}
