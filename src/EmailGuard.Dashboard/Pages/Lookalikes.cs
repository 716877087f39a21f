using System.Globalization;
using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// Words that others wrote (a party id, a list entry, a reason) spelled with letters of another script that look like
/// Latin ones: a tenant <c>аcme</c> with a Cyrillic <c>а</c> (U+0430), a user <c>acοme</c> with a Greek <c>ο</c>,
/// a domain <c>gօօgle.com</c> with Armenian ones (the guard refuses a domain label mixing Latin with Cyrillic or Greek,
/// not with other scripts), or a tenant <c>асе</c> wholly in Cyrillic letters that read "ace". Shown as they are, they
/// read as the real party's id, so an operator suspending or blocklisting from the dashboard could act on the wrong
/// party. The dashboard's pages (<see cref="Html.Visible"/>) and its alerts (<see cref="AlertText.OneLine"/>) write such a
/// word with its odd letters spelled out (<c>\u0430cme</c>) and <see cref="Marker"/> after the id, address or name it is
/// in, or, for a word wholly in lookalike letters, all its letters spelled out and <see cref="LatinMarker"/> with what it
/// reads as (<c>\u0430\u0441\u0435 [looks like Latin: ace]</c>); a host name in punycode, as the guard keeps a domain, is
/// followed by its Unicode form.
/// </summary>
/// <remarks>
/// <para>
/// A word is a run of letters, digits, combining marks and format characters (<c>.</c>, <c>@</c>, <c>-</c>, a space end
/// it). It is marked when its letters and digits come from two scripts or more, or when it has a letter that only
/// imitates Latin ones (<see cref="Script.Imitation"/>: fullwidth forms, mathematical alphanumerics, IPA and small
/// capitals, letterlike and enclosed forms, Roman numerals, ligatures). Latin goes with Han, kana and Hangul, as
/// Unicode's "highly restrictive" profile (UTS #39) allows: <c>ABC株式会社</c> is one name. A word wholly in one other
/// script is marked when every letter of it has a Latin twin (<see cref="LatinTwins"/>, from Unicode's confusables
/// data; ASCII digits allowed): <c>асе</c>, <c>ΑΒΕ</c>, <c>ᎪᏴᎬ</c>. One with a letter that has none (<c>пример</c>,
/// <c>さくら</c>) is shown as it is. A real word that happens to be all twins (the Russian <c>а</c> or <c>сор</c>) is
/// marked too: the letters cannot tell it from a lookalike.
/// </para>
/// <para>
/// In a word that mixes scripts, the letters outside its main script (the one most of its letters are in, Latin on a
/// tie), every imitating letter, and the combining marks on them are written <c>\uXXXX</c> (<c>\UXXXXXXXX</c> beyond the
/// BMP); in a word wholly in lookalike letters, all of them. .NET has no script property, so scripts are told by code
/// point ranges (<see cref="Script"/>): the common ones by name, every other script of the Basic Multilingual Plane by
/// its block, and any letter beyond that plane as one "other" script. A host name's Unicode form is checked as one word,
/// its dots included, so a name wholly Cyrillic but for <c>.com</c> is marked with all its Cyrillic spelled out, and
/// <c>пример.рф</c> is shown as it is.
/// </para>
/// </remarks>
internal static class Lookalikes
{
    /// <summary>What follows an id, address or name with a word that mixes scripts.</summary>
    public const string Marker = " [mixed scripts]";

    /// <summary>
    /// What follows an id, address or name with a word wholly in letters of another script that render like Latin ones,
    /// before what it reads as and <c>]</c>: <c>\u0430\u0441\u0435 [looks like Latin: ace]</c>.
    /// </summary>
    public const string LatinMarker = " [looks like Latin: ";

    private enum Mark
    {
        None,

        /// <summary>Letters of two scripts or more, or an imitating one: <see cref="Marker"/>.</summary>
        MixedScripts,

        /// <summary>Wholly in letters of one other script that render like Latin ones: <see cref="LatinMarker"/>.</summary>
        LooksLatin,
    }

    /// <summary>
    /// <paramref name="value"/> with each marked word spelled out and <see cref="Marker"/>, or <see cref="LatinMarker"/>
    /// with what the word reads as, after the last word of the run of non-blank characters it is in (before the
    /// punctuation that ends the run); each punycode host name (<c>xn--</c>) followed by its Unicode form in parentheses,
    /// checked as one word; the value itself when it has none of them.
    /// </summary>
    public static string Reveal(string value)
    {
        if (Ascii.IsValid(value) && !value.Contains("xn--", StringComparison.OrdinalIgnoreCase))
        {
            return value;
        }

        StringBuilder shown = new(value.Length + 32);
        bool pending = false;
        List<string> readings = [];
        int markAt = 0;
        for (int i = 0; i < value.Length;)
        {
            if (IsHostChar(value[i]) && (i == 0 || !IsHostChar(value[i - 1])))
            {
                int end = i;
                while (end < value.Length && IsHostChar(value[end]))
                {
                    end++;
                }

                // A host name that runs on into a word (xn--p1aiа) is not one: it is left to the word check below.
                if (WordEnd(value, end) == end && UnicodeForm(value[i..end]) is { } unicode)
                {
                    shown.Append(value, i, end - i).Append(" (");
                    pending |= Pending(AppendWord(shown, unicode, host: true, readings));
                    shown.Append(')');
                    markAt = shown.Length;
                    i = end;
                    continue;
                }
            }

            int wordEnd = WordEnd(value, i);
            if (wordEnd > i)
            {
                pending |= Pending(AppendWord(shown, value.AsSpan(i, wordEnd - i), host: false, readings));
                markAt = shown.Length;
                i = wordEnd;
                continue;
            }

            // The marker goes where the id, address or name ends (after its last word), not inside it
            // (admin@ex\u0430mple.com [mixed scripts]), before the punctuation that follows it ("Clear … of Tenant
            // \u0430cme [mixed scripts]?"), and not at the end of a sentence that names it.
            if ((pending || readings.Count > 0) && char.IsWhiteSpace(value[i]))
            {
                shown.Insert(markAt, Markers(pending, readings));
                pending = false;
                readings.Clear();
            }

            shown.Append(value[i]);
            i++;
        }

        if (pending || readings.Count > 0)
        {
            shown.Insert(markAt, Markers(pending, readings));
        }

        return shown.Equals(value.AsSpan()) ? value : shown.ToString();
    }

    private static bool Pending(Mark mark) => mark == Mark.MixedScripts;

    /// <summary>
    /// The markers of one id, address or name: <see cref="Marker"/> when a word of it mixes scripts, and what its words
    /// wholly in lookalike letters read as (<c> [looks like Latin: ace]</c>, each reading once).
    /// </summary>
    private static string Markers(bool mixed, List<string> readings)
        => (mixed ? Marker : string.Empty) + (readings.Count > 0 ? LatinMarker + string.Join(", ", readings) + "]" : string.Empty);

    /// <summary>The Unicode form of a host name with a punycode label, or <see langword="null"/>.</summary>
    private static string? UnicodeForm(string host)
    {
        string name = host.Trim('.', '-');
        if (!name.Contains("xn--", StringComparison.OrdinalIgnoreCase) || !name.Split('.').Any(static label => label.StartsWith("xn--", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        try
        {
            string unicode = new IdnMapping().GetUnicode(name);
            return string.Equals(unicode, name, StringComparison.OrdinalIgnoreCase) ? null : unicode;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static bool IsHostChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.';

    /// <summary>The end of the word that starts at <paramref name="start"/>, or <paramref name="start"/> when none does.</summary>
    private static int WordEnd(string value, int start)
    {
        int i = start;
        while (i < value.Length && Rune.DecodeFromUtf16(value.AsSpan(i), out Rune rune, out int consumed) == System.Buffers.OperationStatus.Done && IsWordRune(rune))
        {
            i += consumed;
        }

        return i;
    }

    private static bool IsWordRune(Rune rune)
        => Rune.GetUnicodeCategory(rune) is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
            or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber
            or UnicodeCategory.Format;

    /// <summary>
    /// Appends one word, spelled out when it is marked; how it is. A host name's Unicode form (<paramref name="host"/>)
    /// is one word, dots and all, and when marked has every letter beyond ASCII spelled out: <c>аррӏе.com</c>, Cyrillic
    /// but for its top-level domain, reads as apple.com otherwise, where its punycode did not. A word wholly in one
    /// script other than Latin whose every letter has a Latin twin (<see cref="LatinTwins"/>) has all its letters spelled
    /// out, and what it reads as is added to <paramref name="readings"/> (once).
    /// </summary>
    private static Mark AppendWord(StringBuilder shown, ReadOnlySpan<char> word, bool host, List<string> readings)
    {
        if (!Ascii.IsValid(word))
        {
            Span<int> counts = stackalloc int[Script.Count];
            int scripts = 0;
            foreach (Rune rune in word.EnumerateRunes())
            {
                int script = Script.Of(rune);
                if (script != Script.None && counts[script]++ == 0)
                {
                    scripts++;
                }
            }

            if (counts[Script.Latin] > 0 && counts[Script.EastAsian] > 0)
            {
                scripts--;
            }

            if (scripts > 1 || counts[Script.Imitation] > 0)
            {
                SpellOut(shown, word, host ? Script.Latin : Main(counts));
                return Mark.MixedScripts;
            }

            if (scripts == 1 && counts[Script.Latin] == 0 && counts[Script.EastAsian] == 0 && LatinReading(word) is { } reading)
            {
                SpellOut(shown, word, Script.Latin);
                if (!readings.Contains(reading))
                {
                    readings.Add(reading);
                }

                return Mark.LooksLatin;
            }
        }

        shown.Append(word);
        return Mark.None;
    }

    /// <summary>
    /// What a word reads as when each of its letters has a Latin twin: the twins, with its ASCII characters (digits, a
    /// host name's dots and hyphens) as they are and its marks and format characters left out; <see langword="null"/>
    /// when a letter or digit of it has no twin (<c>пример</c>).
    /// </summary>
    private static string? LatinReading(ReadOnlySpan<char> word)
    {
        StringBuilder reading = new(word.Length);
        foreach (Rune rune in word.EnumerateRunes())
        {
            if (rune.IsAscii)
            {
                reading.Append((char)rune.Value);
            }
            else if (Script.Of(rune) != Script.None)
            {
                char twin = LatinTwins.Of(rune);
                if (twin == '\0')
                {
                    return null;
                }

                reading.Append(twin);
            }
        }

        return reading.ToString();
    }

    /// <summary>The script most of a word's letters are in (Latin, with Han and kana, on a tie); never <see cref="Script.Imitation"/>.</summary>
    private static int Main(ReadOnlySpan<int> counts)
    {
        int main = Script.Latin;
        int most = counts[Script.Latin] + counts[Script.EastAsian];
        for (int script = Script.Imitation + 1; script < counts.Length; script++)
        {
            if (counts[script] > most)
            {
                main = script;
                most = counts[script];
            }
        }

        return main;
    }

    private static void SpellOut(StringBuilder shown, ReadOnlySpan<char> word, int main)
    {
        bool spelled = false;
        foreach (Rune rune in word.EnumerateRunes())
        {
            int script = Script.Of(rune);
            bool mark = Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

            // A mark goes with the letter before it: left on a spelled-out one, it would sit on the last digit of its code.
            spelled = mark ? spelled : script != Script.None && !SameScript(script, main);
            if (spelled && !rune.IsAscii && rune.IsBmp)
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\u{rune.Value:X4}");
            }
            else if (spelled && !rune.IsAscii)
            {
                shown.Append(CultureInfo.InvariantCulture, $"\\U{rune.Value:X8}");
            }
            else
            {
                shown.Append(rune.ToString());
            }
        }
    }

    private static bool SameScript(int script, int main)
        => script == main || (main == Script.Latin && script == Script.EastAsian);
}
