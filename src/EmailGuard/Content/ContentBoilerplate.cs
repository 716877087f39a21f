namespace EmailGuard;

/// <summary>
/// Finds where a message's own text ends and its closing boilerplate (signature, legal footer, unsubscribe line)
/// begins, in the word hashes of the normalized text, so the near-duplicate fingerprint shingles the part that differs
/// between mails and not the block a company appends to all of them.
/// </summary>
/// <remarks>
/// A closing phrase counts only within the last <see cref="NearDuplicateSketch.MaxFooterWords"/> words, and only after
/// at least the minimum number of words: a phrase at the top cannot hide the whole text, nor can a long "footer"
/// carry the message. What it still lets through (text of the attacker's own placed after a closing phrase) is
/// documented in docs/content.md.
/// </remarks>
internal static class ContentBoilerplate
{
    /// <summary>Closing phrases; normalized like the text before they are hashed ("may" is a month, so <c>#</c>).</summary>
    private static readonly string[] s_markers =
    [
        "best regards", "kind regards", "kindest regards", "warm regards", "warmest regards", "with kind regards",
        "yours sincerely", "sincerely yours", "yours faithfully", "yours truly", "best wishes",
        "mit freundlichen grüßen", "viele grüße", "cordialement", "saludos cordiales", "met vriendelijke groet",
        "sent from my", "get outlook for",
        "confidentiality notice", "disclaimer", "this email and any", "this e mail and any", "this message and any",
        "this email is intended", "this message is intended", "this email may contain", "this message may contain",
        "this email contains confidential", "this message contains confidential", "the information contained in this",
        "if you are not the intended", "to unsubscribe", "unsubscribe from", "you are receiving this",
        "you received this email", "registered office",
    ];

    private static readonly ulong[][] s_markerHashes = Compile(s_markers);

    /// <summary>A bit per low 10 bits of the built-in phrases' first words: most words are no phrase's start.</summary>
    private static readonly ulong[] s_firstWords = FirstWords(s_markerHashes);

    /// <summary>Gets the built-in closing phrases, for tests.</summary>
    internal static IReadOnlyList<string> BuiltInPhrases => s_markers;

    /// <summary>
    /// The number of leading words that are the message's own text: the position of the first closing phrase that
    /// starts at or after <paramref name="minWords"/> and within the last <paramref name="maxFooterWords"/> words,
    /// else all of them.
    /// </summary>
    public static int BodyEnd(ReadOnlySpan<ulong> words, int minWords, int maxFooterWords, ulong[][] appMarkers)
    {
        for (int p = Math.Max(minWords, words.Length - maxFooterWords); p < words.Length; p++)
        {
            ulong first = words[p];
            bool maybeBuiltIn = (s_firstWords[(int)(first >> 6) & 15] & (1UL << (int)(first & 63))) != 0;
            if ((maybeBuiltIn && StartsAt(words, p, first, s_markerHashes)) || (appMarkers.Length != 0 && StartsAt(words, p, first, appMarkers)))
            {
                return p;
            }
        }

        return words.Length;
    }

    /// <summary>Turns an app's own closing phrases into word hashes, normalized like the text they are looked for in.</summary>
    public static ulong[][] Compile(IEnumerable<string> phrases)
        => [.. phrases.Select(p => NearDuplicateSketch.HashWords(ContentFingerprint.Normalize(new EmailContent { TextBody = p }))).Where(h => h.Length != 0)];

    private static ulong[] FirstWords(ulong[][] markers)
    {
        ulong[] bits = new ulong[16];
        foreach (ulong[] marker in markers)
        {
            bits[(int)(marker[0] >> 6) & 15] |= 1UL << (int)(marker[0] & 63);
        }

        return bits;
    }

    private static bool StartsAt(ReadOnlySpan<ulong> words, int p, ulong first, ulong[][] markers)
    {
        foreach (ulong[] marker in markers)
        {
            if (marker[0] == first && p + marker.Length <= words.Length && words.Slice(p, marker.Length).SequenceEqual(marker))
            {
                return true;
            }
        }

        return false;
    }
}
