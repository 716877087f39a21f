using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net.Mail;

namespace EmailGuard;

/// <summary>
/// Turns an address into the canonical form that counters, blocklists and allowlists are keyed by, so that every
/// spelling that delivers to one mailbox shares one key: <c>Victim@Example.com</c>, <c>victim+1@example.com</c>,
/// <c>victim@example.com。</c>, <c>ｖｉｃｔｉｍ@ｅｘａｍｐｌｅ．ｃｏｍ</c>, the IDN and punycode forms of a domain, and
/// provider aliases such as <c>V.ictim@googlemail.com</c> for <c>victim@gmail.com</c>. Anything that is not a plain,
/// deliverable mailbox is refused with a reason instead of throwing.
/// </summary>
/// <remarks>
/// <para>
/// Order matters and is the point of this type: the domain is mapped as UTS #46 prescribes (fullwidth forms, Unicode
/// full stops, compatibility characters, case) <em>before</em> any dot is trimmed, any label is checked or any value
/// is compared; it is then converted with <see cref="IdnMapping"/> (STD3 rules). The local part gets the same width,
/// compatibility and case folding and must then be an ASCII dot-atom: quoted local parts, internationalized local
/// parts, display names, IP-literal domains, mixed-script look-alike labels and invisible characters are refused.
/// </para>
/// <para>
/// Source-routed local parts (<c>victim%example.com@relay.test</c>) then fold to the address they route to, provider
/// rules (<see cref="EmailAddressNormalizationOptions.Providers"/>) fold aliases, and plus-tags are stripped when
/// configured. See <c>docs/address-normalization.md</c> for the rules and the provider table.
/// </para>
/// </remarks>
public static partial class EmailAddressNormalizer
{
    /// <summary>The longest address accepted, in characters (RFC 5321 forward path).</summary>
    public const int MaxAddressLength = 254;

    /// <summary>Longer input is refused before any work is done, so a hostile value costs bounded CPU.</summary>
    private const int MaxInputLength = 4 * MaxAddressLength;

    /// <summary>
    /// The key value of every value still longer than <see cref="MaxInputLength"/> once trimmed. It starts with a NUL,
    /// which no other key value holds (addresses and folded values have no control characters).
    /// </summary>
    private const string OverlongPartitionValue = "\0overlong";

    private const int MaxLocalPartLength = 64;
    private const int MaxDomainLength = 253;
    private const int MaxLabelLength = 63;
    private const string AtomSpecials = "!#$%&'*+-/=?^_`{|}~";

    private static readonly IdnMapping s_idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };
    private static readonly EmailAddressNormalizationOptions s_stripTags = new() { StripPlusTags = true };
    private static readonly EmailAddressNormalizationOptions s_keepTags = new() { StripPlusTags = false };

    /// <summary>
    /// Normalizes an address with the built-in provider table (see <see cref="EmailAddressNormalizationOptions"/>).
    /// </summary>
    /// <param name="address">The address as the user or app gave it; may be null.</param>
    /// <param name="stripPlusTag">Whether to drop a <c>+tag</c> from the local part, so tagged variants share a counter.</param>
    /// <param name="result">The canonical address, when valid.</param>
    /// <param name="error">Why the address was refused, when invalid.</param>
    /// <returns>Whether the address is valid.</returns>
    public static bool TryNormalize(
        string? address,
        bool stripPlusTag,
        out NormalizedEmailAddress result,
        [NotNullWhen(false)] out string? error)
        => TryNormalize(address, stripPlusTag ? s_stripTags : s_keepTags, out result, out error);

    /// <summary>Normalizes an address.</summary>
    /// <param name="address">The address as the user or app gave it; may be null.</param>
    /// <param name="options">How plus-tags and provider aliases fold.</param>
    /// <param name="result">The canonical address, when valid.</param>
    /// <param name="error">Why the address was refused, when invalid.</param>
    /// <returns>Whether the address is valid.</returns>
    public static bool TryNormalize(
        string? address,
        EmailAddressNormalizationOptions options,
        out NormalizedEmailAddress result,
        [NotNullWhen(false)] out string? error)
        => TryNormalize(address, options, guesses: true, out result, out error);

    /// <summary>
    /// Normalizes an address with only the folds that keep to one mailbox for certain: case, width, IDN, and what the
    /// provider rules document (Gmail's dots and <c>+</c>, alias domains, a provider's own separators). The generic
    /// plus-tag rule (<see cref="EmailAddressNormalizationOptions.StripPlusTags"/> at a domain whose rule does not
    /// name <c>+</c>) and source routes are guesses: a server that does not deliver <c>victim+x</c> or
    /// <c>victim%example.com</c> to <c>victim</c> bounces them while <c>victim</c> lives. Where this form differs
    /// from <see cref="TryNormalize(string?, EmailAddressNormalizationOptions, out NormalizedEmailAddress, out string?)"/>'s,
    /// what happened to the address says nothing certain about the mailbox it folds to.
    /// </summary>
    internal static bool TryNormalizeWithoutGuesses(string? address, EmailAddressNormalizationOptions options, out NormalizedEmailAddress result)
        => TryNormalize(address, options, guesses: false, out result, out _);

    private static bool TryNormalize(
        string? address,
        EmailAddressNormalizationOptions options,
        bool guesses,
        out NormalizedEmailAddress result,
        [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(options);
        result = default;
        if (string.IsNullOrWhiteSpace(address))
        {
            error = "The address is empty.";
            return false;
        }

        if (address.Length > MaxInputLength)
        {
            error = $"The address is {address.Length} characters long; at most {MaxAddressLength} are allowed.";
            return false;
        }

        string trimmed = address.Trim();
        error = AddressMapping.FindForbiddenCharacter(trimmed);
        if (error is not null)
        {
            return false;
        }

        int at = trimmed.LastIndexOf('@');
        if (at <= 0 || at == trimmed.Length - 1 || trimmed.IndexOf('@') != at)
        {
            error = "The address must contain exactly one '@' between a local part and a domain.";
            return false;
        }

        string local = AddressMapping.Map(trimmed[..at], mapDots: false);
        if (local.Length > MaxLocalPartLength || !IsDotAtom(local))
        {
            error = $"The local part must be 1 to {MaxLocalPartLength} ASCII letters, digits, dots or {AtomSpecials}, without leading, trailing or doubled dots (quoted and internationalized local parts are refused).";
            return false;
        }

        if (!TryMapDomain(trimmed[(at + 1)..], out string? domain, out error))
        {
            return false;
        }

        if (options.FoldProviderAliases && guesses)
        {
            (local, domain) = FoldSourceRoute(local, domain);
        }

        (local, domain) = ProviderTable.For(options).Fold(local, domain, options, stripPlusTags: guesses && options.StripPlusTags);
        if (local.Length + 1 + domain.Length > MaxAddressLength)
        {
            error = $"The address is longer than {MaxAddressLength} characters.";
            return false;
        }

        result = new NormalizedEmailAddress(local, domain);
        return true;
    }

    /// <summary>
    /// The value a counter for <paramref name="value"/> should be keyed by: the canonical address when it is a valid
    /// address; the canonical address a mailer delivers to when the value wraps one in a display name or comments
    /// (<c>1 &lt;victim@example.com&gt;</c>, <c>victim@example.com (1)</c>); else the value folded as far as possible
    /// (invisible characters dropped, widths, Unicode full stops and case folded), so that look-alike spellings of one
    /// value, valid or not, share one key. A value that lists more than one address (<c>decoy@attacker.test,
    /// victim@example.com</c>: two or more addresses, bare or with a display name, between commas or semicolons outside
    /// quotes, comments and angle brackets) is keyed as an invalid value is, folded, never as one of its addresses: a
    /// mailer delivers to every address of the list, so keying the one a parser keeps would let the others through.
    /// Split such a value and key each address to count them. A value longer than four times
    /// <see cref="MaxAddressLength"/> once trimmed (longer than any address with a display name) is keyed as one value
    /// that every such value shares. A quoted local part is keyed as its content (<c>"victim+1"@gmail.com</c> as
    /// victim@gmail.com), as the receiving server delivers it. Never throws on content.
    /// </summary>
    /// <param name="value">A value from a request, such as a form field that should hold an address.</param>
    /// <param name="options">How plus-tags and provider aliases fold.</param>
    /// <returns>The key value; hash it before it goes into a store key.</returns>
    public static string GetPartitionValue(string value, EmailAddressNormalizationOptions options)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        if (TryNormalize(value, options, out NormalizedEmailAddress address, out _))
        {
            return address.Address;
        }

        if (value.Length > MaxInputLength)
        {
            // Longer than any address with a display name, and too long to fold within bounded work. Keyed as written,
            // each new padding ("victim@example.com" and 1,000 spaces) or long display name was a fresh counter for the
            // address a mailer still delivers to; padding is trimmed, and whatever is still over-long shares one key.
            string trimmed = value.Trim();
            return trimmed.Length > MaxInputLength ? OverlongPartitionValue : GetPartitionValue(trimmed, options);
        }

        // MailAddress parses "decoy@attacker.test, victim@example.com" as one of the two, so a list is settled before
        // it gets the chance; the folded spelling is checked too, since folding turns a fullwidth comma into ','.
        string folded = FoldForKey(value);
        if (ListsSeveralAddresses(value, options) || ListsSeveralAddresses(folded, options))
        {
            return folded;
        }

        return TryNormalizeLoosely(value, folded, options, out address) ? address.Address : folded;
    }

    /// <summary>A value folded as <see cref="GetPartitionValue"/> keys it: look-alikes folded, then white space and trailing dots trimmed.</summary>
    private static string FoldForKey(string value) => AddressMapping.FoldLoosely(value).Trim().TrimEnd('.');

    /// <summary>The one address a value that is not a plain address delivers to, read as written and then folded.</summary>
    private static bool TryNormalizeLoosely(string value, string folded, EmailAddressNormalizationOptions options, out NormalizedEmailAddress address)
    {
        // A display name or a comment around an address passes [EmailAddress] (one '@', not first or last), and
        // System.Net.Mail and MailKit deliver the value to the address inside: keyed as the whole string, every new
        // display name would be a fresh counter for the same mailbox.
        string trimmed = value.Trim();
        return TryNormalizeMailbox(trimmed, options, out address)
               || TryNormalizeUnquoted(trimmed, options, out address)
               || TryNormalize(folded, options, out address, out _)
               || TryNormalizeUnquoted(folded, options, out address)
               || TryNormalizeMailbox(folded, options, out address)
               || TryNormalizeForgiven(folded, options, out address);
    }

    /// <summary>
    /// Whether two or more of the parts of <paramref name="value"/> between commas and semicolons outside quotes,
    /// comments and angle brackets are addresses (the split System.Net.Mail's and MailKit's address lists make).
    /// </summary>
    private static bool ListsSeveralAddresses(string value, EmailAddressNormalizationOptions options)
    {
        if (value.AsSpan().IndexOfAny(',', ';') < 0)
        {
            return false;
        }

        int addresses = 0;
        foreach (string part in SplitAddressList(value))
        {
            if (IsAddress(part, options) && ++addresses > 1)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The parts of <paramref name="value"/> read as an address list: split at the commas and semicolons outside
    /// quotes, comments and angle brackets, the split System.Net.Mail's and MailKit's address lists make
    /// (<c>decoy@attacker.test, "Doe, J." &lt;victim@example.com&gt;</c> is two parts). Empty parts are left out; the
    /// parts are as written, not trimmed or normalized. Read lazily, so a caller may stop after the parts it needs.
    /// </summary>
    /// <param name="value">The value, for example a form field.</param>
    /// <returns>The parts; the value itself when it holds no separator outside quotes, comments and angle brackets.</returns>
    public static IEnumerable<string> SplitAddressList(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Split(value);

        static IEnumerable<string> Split(string value)
        {
            int start = 0;
            int depth = 0;
            bool quoted = false;
            for (int i = 0; i <= value.Length; i++)
            {
                char c = i < value.Length ? value[i] : ',';
                if (quoted)
                {
                    i += c == '\\' ? 1 : 0;
                    quoted = c != '"';
                    continue;
                }

                switch (c)
                {
                    case '"':
                        quoted = true;
                        break;
                    case '(' or '<':
                        depth++;
                        break;
                    case ')' or '>':
                        depth = Math.Max(0, depth - 1);
                        break;
                    case ',' or ';' when depth == 0:
                        if (start < i)
                        {
                            yield return value[start..i];
                        }

                        start = i + 1;
                        break;
                }
            }
        }
    }

    /// <summary>Whether one part of a list delivers to an address, bare, wrapped or in a look-alike spelling.</summary>
    private static bool IsAddress(string part, EmailAddressNormalizationOptions options)
        => TryNormalize(part, options, out _, out _)
           || (part.Length <= MaxInputLength && TryNormalizeLoosely(part, FoldForKey(part), options, out _));

    /// <summary>The canonical form of the one address that <paramref name="value"/>, read as a mailbox with an optional display name and comments, delivers to.</summary>
    private static bool TryNormalizeMailbox(string value, EmailAddressNormalizationOptions options, out NormalizedEmailAddress address)
    {
        address = default;
        return MailAddress.TryCreate(WithoutSourceRoute(value), out MailAddress? mailbox)
               && (TryNormalize(mailbox.Address, options, out address, out _) || TryNormalizeUnquoted(mailbox.Address, options, out address));
    }

    /// <summary>
    /// The address a source-routed local part is delivered to, at the domain that receives it:
    /// <c>victim%example.com@example.com</c> and <c>example.com!victim@example.com</c> are <c>victim@example.com</c>.
    /// Postfix rewrites both forms by default at its own domains (<c>allow_percent_hack</c> and <c>swap_bangpath</c> are
    /// on), so a victim's own server delivers them to the victim, and every nesting of it was a counter of its own. The
    /// rightmost <c>%</c> and then the leftmost <c>!</c> are resolved, as Postfix does, for as long as the host they name
    /// is the domain after the <c>@</c>. A route to another host is not followed: Postfix relays sender-specified routing
    /// only for trusted clients (<c>allow_untrusted_routing</c> is off), and other servers take the local part as it is,
    /// so <c>victim%example.com@relay.test</c> is delivered (or bounced) at relay.test. Keyed as victim@example.com, it
    /// passed relay.test's domain cap (a catch-all's, or gmail.com's with its bounces) and let anyone spend the victim's
    /// caps with mail delivered to a domain of their own, no bounce or complaint to trip a breaker.
    /// <c>50%off@shop.example</c> and <c>hi!there@example.com</c> stay as they are.
    /// </summary>
    private static (string Local, string Domain) FoldSourceRoute(string local, string domain)
    {
        while (true)
        {
            int percent = local.LastIndexOf('%');
            int bang = local.IndexOf('!', StringComparison.Ordinal);
            if (percent > 0 && percent < local.Length - 1 && TryMapDomain(local[(percent + 1)..], out string? host, out _)
                && string.Equals(host, domain, StringComparison.Ordinal) && IsDotAtom(local[..percent]))
            {
                (local, domain) = (local[..percent], host);
            }
            else if (bang > 0 && bang < local.Length - 1 && TryMapDomain(local[..bang], out host, out _)
                     && string.Equals(host, domain, StringComparison.Ordinal) && IsDotAtom(local[(bang + 1)..]))
            {
                (local, domain) = (local[(bang + 1)..], host);
            }
            else
            {
                return (local, domain);
            }
        }
    }

    private static bool IsDotAtom(string local)
    {
        if (local.Length == 0 || local[0] == '.' || local[^1] == '.' || local.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in local)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '.' || AtomSpecials.Contains(c, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }
}
