using System.Globalization;
using System.Net.Mail;

namespace EmailGuard;

/// <summary>
/// Turns an address into the canonical form that counters are keyed by, so that <c>Victim@Example.com</c>,
/// <c>victim+1@example.com</c>, <c> victim@EXAMPLE.com </c> and the IDN and punycode forms of one domain all share
/// one counter. Anything that is not a plain, deliverable mailbox is rejected with a reason instead of throwing.
/// </summary>
/// <remarks>
/// Syntax is checked by <see cref="MailAddress"/>; on top of it the local part must be a dot-atom of ASCII characters
/// (quoted local parts, display names and mixed-script look-alike domains are refused), and the domain is converted
/// to its IDNA ASCII form with <see cref="IdnMapping"/>.
/// </remarks>
public static class EmailAddressNormalizer
{
    /// <summary>The longest address accepted, in characters (RFC 5321 forward path).</summary>
    public const int MaxAddressLength = 254;

    private const int MaxLocalPartLength = 64;
    private const int MaxDomainLength = 253;
    private const string AtomSpecials = "!#$%&'*+-/=?^_`{|}~";

    private static readonly IdnMapping s_idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };

    /// <summary>
    /// Normalizes an address.
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
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        result = default;
        if (string.IsNullOrWhiteSpace(address))
        {
            error = "The address is empty.";
            return false;
        }

        if (address.Length > 4 * MaxAddressLength)
        {
            error = $"The address is {address.Length} characters long; at most {MaxAddressLength} are allowed.";
            return false;
        }

        string trimmed = address.Trim();
        foreach (char c in trimmed)
        {
            if (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                error = "The address contains a control or invisible formatting character.";
                return false;
            }
        }

        int at = trimmed.LastIndexOf('@');
        if (at <= 0 || at == trimmed.Length - 1 || trimmed.IndexOf('@') != at)
        {
            error = "The address must contain exactly one '@' between a local part and a domain.";
            return false;
        }

        if (!MailAddress.TryCreate(trimmed, out MailAddress? parsed)
            || !string.Equals(parsed.Address, trimmed, StringComparison.Ordinal)
            || !string.IsNullOrEmpty(parsed.DisplayName))
        {
            error = "The address is not a valid mailbox.";
            return false;
        }

        string local = trimmed[..at];
        string domain = trimmed[(at + 1)..].TrimEnd('.');
        if (local.Length > MaxLocalPartLength || !IsDotAtom(local))
        {
            error = $"The local part must be 1 to {MaxLocalPartLength} letters, digits, dots or {AtomSpecials}, without leading, trailing or doubled dots.";
            return false;
        }

        if (domain.Length == 0 || domain.Length > MaxDomainLength || domain.Contains("..", StringComparison.Ordinal))
        {
            error = "The domain is empty, too long or has an empty label.";
            return false;
        }

        if (HasMixedScriptLabel(domain))
        {
            error = "The domain mixes Latin letters with look-alike Cyrillic or Greek letters.";
            return false;
        }

        string asciiDomain;
        try
        {
            asciiDomain = s_idn.GetAscii(domain).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            error = "The domain is not a valid internationalized domain name.";
            return false;
        }

        if (!asciiDomain.Contains('.', StringComparison.Ordinal) || asciiDomain.Length > MaxDomainLength)
        {
            error = "The domain must be a fully qualified name such as example.com.";
            return false;
        }

        string canonicalLocal = local.ToLowerInvariant();
        if (stripPlusTag)
        {
            int plus = canonicalLocal.IndexOf('+', StringComparison.Ordinal);
            if (plus > 0)
            {
                canonicalLocal = canonicalLocal[..plus];
            }
        }

        if (canonicalLocal.Length + 1 + asciiDomain.Length > MaxAddressLength)
        {
            error = $"The address is longer than {MaxAddressLength} characters.";
            return false;
        }

        result = new NormalizedEmailAddress(canonicalLocal, asciiDomain);
        error = null;
        return true;
    }

    /// <summary>
    /// Normalizes a bare domain (for blocklists and domain caps): IDNA ASCII, lower case, no trailing dot.
    /// </summary>
    /// <param name="domain">The domain.</param>
    /// <param name="result">The canonical domain, when valid.</param>
    /// <returns>Whether the domain is valid.</returns>
    public static bool TryNormalizeDomain(string? domain, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? result)
    {
        result = null;
        if (string.IsNullOrWhiteSpace(domain) || domain.Length > 4 * MaxDomainLength)
        {
            return false;
        }

        string trimmed = domain.Trim().TrimEnd('.');
        if (trimmed.Length == 0 || trimmed.Contains("..", StringComparison.Ordinal) || HasMixedScriptLabel(trimmed))
        {
            return false;
        }

        try
        {
            string ascii = s_idn.GetAscii(trimmed).ToLowerInvariant();
            if (!ascii.Contains('.', StringComparison.Ordinal) || ascii.Length > MaxDomainLength)
            {
                return false;
            }

            result = ascii;
            return true;
        }
        catch (ArgumentException)
        {
            return false;
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

    /// <summary>
    /// A label that mixes ASCII letters with Cyrillic or Greek letters is the classic look-alike (<c>exаmple.com</c>
    /// with a Cyrillic <c>а</c>); browsers refuse to display such labels as Unicode for the same reason.
    /// </summary>
    private static bool HasMixedScriptLabel(string domain)
    {
        bool latin = false;
        bool lookalike = false;
        foreach (char c in domain)
        {
            if (c == '.' || c == '\u3002' || c == '\uFF0E' || c == '\uFF61')
            {
                if (latin && lookalike)
                {
                    return true;
                }

                latin = lookalike = false;
                continue;
            }

            latin |= char.IsAsciiLetter(c);
            lookalike |= c is (>= '\u0370' and <= '\u03FF') or (>= '\u0400' and <= '\u052F') or (>= '\u1F00' and <= '\u1FFF');
        }

        return latin && lookalike;
    }
}
