using System.Globalization;

namespace EmailGuard;

/// <summary>
/// Folds a message's text into the form its fingerprint is taken of, so that a template filled in for each recipient,
/// and the tricks an attacker would use to make each copy look new, come out the same: words in lower case separated
/// by single spaces; markup, punctuation and layout gone; numbers masked; greetings' names masked; URLs without their
/// query strings.
/// </summary>
/// <remarks>
/// Writes into a caller's buffer and allocates nothing. The output never is longer than the input plus one separator
/// per <see cref="Append"/>, so a buffer of that size always suffices: a part whose compatibility folds (<c>ﬃ</c> is
/// <c>ffi</c>) would write more is read up to that length.
/// <list type="bullet">
/// <item>In HTML parts, tags are dropped; block tags (<c>p</c>, <c>br</c>, <c>div</c>, ...) end a word and a line, inline ones
/// (<c>b</c>, <c>span</c>, ...) do not, so <c>H&lt;span&gt;&lt;/span&gt;ello</c> still reads <c>hello</c>. Script, style,
/// title and template elements and comments are dropped with their content.</item>
/// <item>Entities are decoded (<c>&amp;#72;</c> is <c>h</c>); format characters (zero-width spaces, soft hyphens, tag
/// characters), invisible letters (Hangul fillers) and combining marks are dropped, so neither splits nor changes a word;
/// accented letters read as their base letter, composed or not, mathematical styled letters as plain ones, and
/// compatibility characters (ligatures, full-width letters, ...) as what they stand for (<see cref="UnicodeFolding"/>).
/// Control and private-use characters are dropped too.</item>
/// <item>A word with a digit, and a month or weekday name, is <c>#</c>, and a run of such words is one <c>#</c>:
/// order numbers, amounts, dates and phone numbers in any format fold alike.</item>
/// <item>A greeting word (<c>hi</c>, <c>dear</c>, <c>good morning</c>, ...) followed by at most four words and then a
/// comma, colon, semicolon, exclamation mark or line end is dropped with those words: <c>Dear Mr. Smith,</c>,
/// <c>Hi Bob!</c> and <c>Hello,</c> all read as nothing, so neither the name nor the choice of greeting tells copies
/// apart. One greeting per part is dropped: a message written as a greeting per line is read.</item>
/// <item>A URL (<c>http://</c>, <c>https://</c>, <c>www.</c>) loses its query string and fragment, where tracking
/// parameters live.</item>
/// </list>
/// </remarks>
internal ref partial struct ContentNormalizer
{
    private const int MaxGreetingWords = 4;
    private static readonly System.Buffers.SearchValues<char> s_urlEnds = System.Buffers.SearchValues.Create(" \t\r\n<>\"'");
    private readonly Span<char> _output;
    private int _length;

    /// <summary>Where the current part's output must end: its length plus a separator, so a part never crowds out the next.</summary>
    private int _limit;
    private int _tokenStart;
    private bool _tokenHasDigit;
    private int _greetingCut;
    private int _greetingWords;

    /// <summary>Whether the current part's greeting was dropped: only one per part is, so a greeting per line hides nothing.</summary>
    private bool _greetingDropped;

    public ContentNormalizer(Span<char> output)
    {
        _output = output;
        _tokenStart = -1;
        _greetingCut = -1;
    }

    /// <summary>Gets the normalized text written so far.</summary>
    public readonly ReadOnlySpan<char> Written => _output[.._length];

    /// <summary>Appends one part (subject, body) as its own line.</summary>
    /// <param name="text">The part.</param>
    /// <param name="markup">
    /// Whether the part is HTML. Only then are tags skipped: in a subject or a plain-text body a reader sees <c>&lt;x</c>
    /// and everything after it, so it must not hide the rest of the part from the fingerprints.
    /// </param>
    public void Append(ReadOnlySpan<char> text, bool markup)
    {
        _greetingDropped = false;
        _limit = Math.Min(_output.Length, _length + text.Length + 1);
        Read(text, markup);
        EndLine();
    }

    private void Read(ReadOnlySpan<char> text, bool markup)
    {
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (c == '<' && markup && TrySkipTag(text, ref i))
            {
                continue;
            }

            if (c == '&' && TryDecodeEntity(text, ref i, out int decoded))
            {
                FeedCodePoint(decoded);
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                FeedCodePoint(char.ConvertToUtf32(c, text[i + 1]));
                i += 2;
                continue;
            }

            if (_tokenStart < 0 && (char)(c | 0x20) is 'h' or 'w' && UrlEnd(text, i) is > 0 and int end)
            {
                AppendUrl(text[i..end]);
                i = end;
                continue;
            }

            Feed(c);
            i++;
        }
    }

    private void Feed(char c)
    {
        if (char.IsAscii(c))
        {
            // Most mail is ASCII: no Unicode tables for it.
            if (char.IsAsciiLetterOrDigit(c))
            {
                AppendTokenChar(char.IsAsciiLetterUpper(c) ? (char)(c | 0x20) : c, char.IsAsciiDigit(c));
                return;
            }

            if (IsInvisibleControl(c))
            {
                return;
            }

            EndToken();
            if (c is '\n' or '\r' or ',' or ':' or ';' or '!')
            {
                ResolveGreeting();
            }

            return;
        }

        if (UnicodeFolding.IsIgnorable(c) || IsInvisibleControl(c) || char.IsBetween(c, '\uE000', '\uF8FF'))
        {
            // Private-use characters show as nothing, a box, or an icon font's picture: none of them is a word's letter.
            return;
        }

        ReadOnlySpan<char> folded = UnicodeFolding.Compatibility(c);
        if (!folded.IsEmpty)
        {
            FeedFolded(folded);
            return;
        }

        FeedUnfolded(c);
    }

    /// <summary>Feeds a compatibility character's fold (<c>fi</c> for <c>ﬁ</c>), whose characters fold no further.</summary>
    private void FeedFolded(ReadOnlySpan<char> folded)
    {
        for (int i = 0; i < folded.Length; i++)
        {
            if (char.IsHighSurrogate(folded[i]) && i + 1 < folded.Length)
            {
                FeedCodePoint(char.ConvertToUtf32(folded[i], folded[++i]));
            }
            else if (char.IsAscii(folded[i]))
            {
                Feed(folded[i]);
            }
            else
            {
                FeedUnfolded(folded[i]);
            }
        }
    }

    private void FeedUnfolded(char c)
    {
        if (char.IsLetterOrDigit(c))
        {
            AppendTokenChar(char.ToLowerInvariant(UnicodeFolding.BaseLetter(c)), char.IsDigit(c));
            return;
        }

        UnicodeCategory category = char.GetUnicodeCategory(c);
        if (category is UnicodeCategory.Format or UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark)
        {
            return;
        }

        EndToken();
        if (c is '\u2028' or '\u2029' or '\u3001' or '\uFF0C' or '\uFF01' or '\uFF1A')
        {
            ResolveGreeting();
        }
    }

    /// <summary>
    /// C0 and C1 control characters other than tab and line breaks: a reader sees nothing (or, at most, a box) where they
    /// are, so one between two letters must not split the word.
    /// </summary>
    private static bool IsInvisibleControl(char c)
        => (c < ' ' && c is not ('\t' or '\n' or '\v' or '\f' or '\r')) || c is >= '\u007F' and <= '\u009F';

    private void AppendTokenChar(char lower, bool digit)
    {
        if (_length + (_tokenStart < 0 && _length != 0 ? 2 : 1) > _limit)
        {
            // A compatibility fold can be longer than its character (ﬃ is ffi): the part's share of the buffer is full.
            return;
        }

        if (_tokenStart < 0)
        {
            if (_length != 0)
            {
                _output[_length++] = ' ';
            }

            _tokenStart = _length;
        }

        _tokenHasDigit |= digit;
        _output[_length++] = lower;
    }

    private void EndLine()
    {
        EndToken();
        ResolveGreeting();
    }

    private void EndToken()
    {
        if (_tokenStart < 0)
        {
            return;
        }

        int start = _tokenStart;
        _tokenStart = -1;
        if (_tokenHasDigit || IsDateWord(_output[start.._length]))
        {
            _tokenHasDigit = false;
            if (start >= 2 && _output[start - 2] == '#')
            {
                // "12 345", "2026-11-23" and "+1 (555) 123-4567" are one number however they are written.
                _length = start - 1;
                return;
            }

            _length = start;
            _output[_length++] = '#';
        }
        else if (_greetingCut < 0 && !_greetingDropped && IsGreeting(_output[start.._length]))
        {
            // Cut before the greeting word and its separator, and before a "good" of "good morning".
            int cut = start > 0 ? start - 1 : 0;
            if (cut >= 4 && _output.Slice(cut - 4, 4).SequenceEqual("good") && (cut == 4 || _output[cut - 5] == ' '))
            {
                cut = Math.Max(0, cut - 5);
            }

            _greetingCut = cut;
            _greetingWords = 0;
            return;
        }

        if (_greetingCut >= 0 && ++_greetingWords > MaxGreetingWords)
        {
            _greetingCut = -1;
        }
    }

    /// <summary>The line ended within a greeting's few words: they were the greeting and a name; drop them.</summary>
    private void ResolveGreeting()
    {
        if (_greetingCut >= 0)
        {
            _length = _greetingCut;
            _greetingCut = -1;
            _greetingDropped = true;
        }
    }

    /// <summary>Month and weekday names are part of a date, and a date is as volatile as a number.</summary>
    private static bool IsDateWord(ReadOnlySpan<char> word) => word switch
    {
        "january" or "february" or "march" or "april" or "may" or "june" or "july" or "august" or "september" or "october"
            or "november" or "december" or "jan" or "feb" or "mar" or "apr" or "jun" or "jul" or "aug" or "sep" or "sept"
            or "oct" or "nov" or "dec" or "monday" or "tuesday" or "wednesday" or "thursday" or "friday" or "saturday"
            or "sunday" or "mon" or "tue" or "wed" or "thu" or "fri" or "sat" or "sun" => true,
        _ => false,
    };

    private static bool IsGreeting(ReadOnlySpan<char> word) => word switch
    {
        "hi" or "hello" or "hey" or "dear" or "greetings" or "morning" or "afternoon" or "evening"
            or "hallo" or "hola" or "bonjour" or "ciao" or "salut" or "hej" or "moin" => true,
        _ => false,
    };

    private void AppendUrl(ReadOnlySpan<char> url)
    {
        int cut = url.IndexOfAny('?', '#');
        ReadOnlySpan<char> kept = cut < 0 ? url : url[..cut];
        for (int i = 0; i < kept.Length; i++)
        {
            if (char.IsHighSurrogate(kept[i]) && i + 1 < kept.Length && char.IsLowSurrogate(kept[i + 1]))
            {
                FeedCodePoint(char.ConvertToUtf32(kept[i], kept[++i]));
                continue;
            }

            Feed(kept[i]);
        }

        EndToken();
    }

    /// <summary>The end of the URL that starts at <paramref name="start"/>, or 0 when none does.</summary>
    private static int UrlEnd(ReadOnlySpan<char> text, int start)
    {
        ReadOnlySpan<char> rest = text[start..];
        if (!rest.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !rest.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
            && !rest.StartsWith("www.", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        int length = rest.IndexOfAny(s_urlEnds);
        return start + (length < 0 ? rest.Length : length);
    }
}
