using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace EmailGuard;

/// <summary>Domains: the bare-domain entry points, the UTS #46 mapping, the IDNA conversion and the checks that refuse look-alike and malformed domains.</summary>
public static partial class EmailAddressNormalizer
{
    /// <summary>
    /// Normalizes a bare domain (for blocklists and domain caps): UTS #46 mapping, IDNA ASCII, lower case, no trailing
    /// dot. Provider alias domains are not folded; see <see cref="TryNormalizeDomain(string?, EmailAddressNormalizationOptions, out string?)"/>.
    /// </summary>
    /// <param name="domain">The domain.</param>
    /// <param name="result">The canonical domain, when valid.</param>
    /// <returns>Whether the domain is valid.</returns>
    public static bool TryNormalizeDomain(string? domain, [NotNullWhen(true)] out string? result)
    {
        result = null;
        if (string.IsNullOrWhiteSpace(domain) || domain.Length > MaxInputLength)
        {
            return false;
        }

        string trimmed = domain.Trim();
        return AddressMapping.FindForbiddenCharacter(trimmed) is null && TryMapDomain(trimmed, out result, out _);
    }

    /// <summary>
    /// The registrable domain (eTLD+1) of a domain, as the send guard's recipient-domain cap counts it: the domain
    /// normalized as <see cref="TryNormalizeDomain(string?, out string?)"/> does, then cut to its public suffix and one
    /// label more by the Public Suffix List's ICANN section (<c>x1.victim.com</c> → <c>victim.com</c>,
    /// <c>a.foo.co.uk</c> → <c>foo.co.uk</c>); a domain that is itself a public suffix (<c>co.uk</c>) is its own. See
    /// docs/address-normalization.md, "The domain counter: one registrable domain".
    /// </summary>
    /// <param name="domain">The domain, such as the part of an address after its <c>@</c>.</param>
    /// <param name="result">The registrable domain, when <paramref name="domain"/> is valid.</param>
    /// <returns>Whether the domain is valid.</returns>
    public static bool TryGetRegistrableDomain(string? domain, [NotNullWhen(true)] out string? result)
    {
        if (!TryNormalizeDomain(domain, out string? canonical))
        {
            result = null;
            return false;
        }

        result = PublicSuffixList.Icann.GetRegistrableDomain(canonical);
        return true;
    }

    /// <summary>
    /// Normalizes a bare domain as <see cref="TryNormalizeDomain(string?, out string?)"/> does, then folds a provider's
    /// alias domain to its canonical one (<c>googlemail.com</c> to <c>gmail.com</c>) when
    /// <see cref="EmailAddressNormalizationOptions.FoldProviderAliases"/> is set.
    /// </summary>
    /// <param name="domain">The domain.</param>
    /// <param name="options">How provider aliases fold.</param>
    /// <param name="result">The canonical domain, when valid.</param>
    /// <returns>Whether the domain is valid.</returns>
    public static bool TryNormalizeDomain(string? domain, EmailAddressNormalizationOptions options, [NotNullWhen(true)] out string? result)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!TryNormalizeDomain(domain, out result))
        {
            return false;
        }

        result = ProviderTable.For(options).FoldDomain(result, options);
        return true;
    }

    /// <summary>Maps, validates and converts a domain; <paramref name="raw"/> has no surrounding white space or forbidden characters.</summary>
    private static bool TryMapDomain(string raw, [NotNullWhen(true)] out string? ascii, [NotNullWhen(false)] out string? error)
    {
        ascii = null;

        // UTS #46: map first (U+3002 and friends become '.'), only then look at dots.
        string mapped = AddressMapping.Map(raw, mapDots: true);
        if (mapped.Length > 1 && mapped[^1] == '.')
        {
            // One trailing dot is the DNS root ("example.com."); more is an empty label.
            mapped = mapped[..^1];
        }

        if (mapped.Length == 0 || mapped[0] == '.' || mapped[^1] == '.' || mapped.Contains("..", StringComparison.Ordinal))
        {
            error = "The domain is empty or has an empty label (leading, trailing or doubled dots).";
            return false;
        }

        if (mapped[0] == '[')
        {
            error = "IP-literal domains are refused; use a host name.";
            return false;
        }

        if (HasMixedScriptLabel(mapped))
        {
            error = "The domain mixes Latin letters with look-alike Cyrillic or Greek letters.";
            return false;
        }

        if (!Ascii.IsValid(mapped) && !AddressMapping.CanNormalizeUnicode)
        {
            error = "The domain is internationalized, and this process runs with invariant globalization, which cannot map it safely; use its punycode (xn--) form.";
            return false;
        }

        try
        {
            ascii = s_idn.GetAscii(mapped).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            error = "The domain is not a valid (internationalized) domain name.";
            return false;
        }

        // Labels IdnMapping produced from Unicode are canonical by construction; only typed xn-- labels need the check.
        return CheckAsciiDomain(ascii, checkPunycode: mapped.Contains("xn--", StringComparison.Ordinal), out error);
    }

    private static bool CheckAsciiDomain(string ascii, bool checkPunycode, [NotNullWhen(false)] out string? error)
    {
        if (ascii.Length > MaxDomainLength)
        {
            error = $"The domain is longer than {MaxDomainLength} characters.";
            return false;
        }

        int labels = 0;
        string last = string.Empty;
        foreach (Range range in ascii.AsSpan().Split('.'))
        {
            string label = ascii[range];
            labels++;
            last = label;
            if (label.Length is 0 or > MaxLabelLength)
            {
                error = $"Every label of the domain must be 1 to {MaxLabelLength} characters long.";
                return false;
            }

            if (checkPunycode && label.StartsWith("xn--", StringComparison.Ordinal) && !IsCanonicalPunycode(label))
            {
                error = "The domain has a punycode label that does not decode to a valid, normalized, single-script name.";
                return false;
            }
        }

        if (labels < 2)
        {
            error = "The domain must be a fully qualified name such as example.com.";
            return false;
        }

        if (last.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0)
        {
            error = "The domain must end in a top-level name, not a number (IP addresses are refused).";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// A punycode label typed as such must be what the Unicode form it stands for maps to; otherwise
    /// <c>xn--</c> spellings of fullwidth, upper-case or mixed-script names would get keys of their own.
    /// </summary>
    private static bool IsCanonicalPunycode(string label)
    {
        try
        {
            string unicode = s_idn.GetUnicode(label);
            return string.Equals(AddressMapping.Map(unicode, mapDots: true), unicode, StringComparison.Ordinal)
                && !HasMixedScriptLabel(unicode)
                && string.Equals(s_idn.GetAscii(unicode), label, StringComparison.Ordinal);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
    /// <summary>
    /// A label that mixes ASCII letters with Cyrillic or Greek letters is the classic look-alike (<c>exаmple.com</c>
    /// with a Cyrillic <c>а</c>); browsers refuse to display such labels as Unicode for the same reason. Runs on the
    /// mapped domain, so fullwidth Latin counts as Latin.
    /// </summary>
    private static bool HasMixedScriptLabel(string domain)
    {
        bool latin = false;
        bool lookalike = false;
        foreach (char c in domain)
        {
            if (AddressMapping.IsUnicodeDot(c))
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
