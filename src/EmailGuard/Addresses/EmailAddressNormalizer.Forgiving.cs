namespace EmailGuard;

/// <summary>
/// The readings of the spellings a forgiving parser (MimeKit's <c>MailboxAddress.Parse</c>, which apps send with)
/// delivers to an address though no strict parser accepts them: an obsolete source route before the address, comments
/// in it, an angle bracket or a quote left open or doubled. Keyed as written, each such spelling was a fresh counter
/// for the same mailbox.
/// </summary>
public static partial class EmailAddressNormalizer
{
    /// <summary>What a local part <see cref="TryNormalizeForgiven"/> reads never holds: brackets, quotes, a route or a list.</summary>
    private static readonly System.Buffers.SearchValues<char> s_notInForgivenLocal = System.Buffers.SearchValues.Create("<>\":;,");

    /// <summary>
    /// The address a forgiving parser reads in a value no strict parser accepts: MimeKit's <c>MailboxAddress.Parse</c>
    /// mails <c>victim@example.(c)com</c>, <c>x &lt;victim@example.com</c>, <c>&lt;&lt;victim@example.com&gt;&gt;</c> and
    /// <c>"x &lt;victim@example.com&gt;</c> to victim@example.com. Comments are dropped, then the one <c>@</c> is read
    /// with the local part after the last <c>&lt;</c> before it and the domain up to the first <c>&gt;</c> after it. A
    /// value without <c>&lt;</c> that holds a quote is left to the quoted readers, which know what it names.
    /// </summary>
    private static bool TryNormalizeForgiven(string value, EmailAddressNormalizationOptions options, out NormalizedEmailAddress address)
    {
        address = default;
        var text = new System.Text.StringBuilder(value.Length);
        int depth = 0;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (depth > 0 && c == '\\')
            {
                i++;
            }
            else if (c == '(')
            {
                depth++;
            }
            else if (c == ')' && depth > 0)
            {
                depth--;
            }
            else if (depth == 0 && !char.IsWhiteSpace(c))
            {
                text.Append(c);
            }
        }

        string stripped = text.ToString();
        int at = stripped.IndexOf('@', StringComparison.Ordinal);
        if (at < 0 || at != stripped.LastIndexOf('@'))
        {
            return false;
        }

        int open = stripped.LastIndexOf('<', at);
        if (open < 0 && stripped.Contains('"', StringComparison.Ordinal))
        {
            return false;
        }

        int close = stripped.IndexOf('>', at);
        string local = stripped[(open + 1)..at];
        string domain = close < 0 ? stripped[(at + 1)..] : stripped[(at + 1)..close];
        return local.Length > 0 && local.AsSpan().IndexOfAny(s_notInForgivenLocal) < 0
               && TryNormalize(string.Concat(local, "@", domain), options, out address, out _);
    }

    /// <summary>
    /// <paramref name="value"/> without the obsolete source route (RFC 5322 obs-route) that may open its angle brackets:
    /// <c>x &lt;@relay.test,@b.test:victim@example.com&gt;</c> is <c>x &lt;victim@example.com&gt;</c>. MimeKit's
    /// <c>MailboxAddress.Parse</c> reads such a value as the address after the route and mails that address (System.Net.Mail
    /// refuses it); keyed as written, each new relay name was a fresh counter for the same mailbox.
    /// </summary>
    private static string WithoutSourceRoute(string value)
    {
        int open = value.IndexOf('<', StringComparison.Ordinal);
        if (open < 0)
        {
            return value;
        }

        ReadOnlySpan<char> inside = value.AsSpan(open + 1);
        int start = inside.Length - inside.TrimStart().Length;
        int colon = inside.IndexOf(':');
        return start < inside.Length && inside[start] == '@' && colon > start && inside[..colon].IndexOfAny('<', '>', '"') < 0
            ? string.Concat(value.AsSpan(0, open + 1), inside[(colon + 1)..])
            : value;
    }
}
