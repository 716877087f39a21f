using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The value a <see cref="EmailRateLimitPolicyBuilder.PerRouteValue(string, RateLimitRule[])"/> partition counts under: one spelling for every
/// spelling that binds to the same number or GUID. <c>/mailbox/42</c>, <c>/mailbox/042</c> and <c>/mailbox/+42</c> all
/// bind <c>int id</c> to 42 (and pass <c>{id:int}</c>), and MVC's type converter also reads <c>0x2A</c>, <c>#2A</c> and
/// <c>&amp;h2A</c>; a GUID binds in upper or lower case, with or without hyphens or braces. Counted raw, each spelling
/// was a fresh counter for the same mailbox. It reads a value <see cref="PartitionValueKey"/> has already folded;
/// other values stay as folded.
/// </summary>
internal static class RouteValueKey
{
    public static string? Canonical(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return value;
        }

        ReadOnlySpan<char> text = value.AsSpan().Trim();
        if (TryDecimal(value, text, out string? number) || TryHex(text, out number))
        {
            return number;
        }

        if (!Guid.TryParse(text, out Guid guid))
        {
            return value;
        }

        return value.Length == 36 && !value.AsSpan().ContainsAnyInRange('A', 'Z') && Guid.TryParseExact(value, "D", out _)
            ? value
            : guid.ToString("D", CultureInfo.InvariantCulture);
    }

    /// <summary>An optional sign and decimal digits, any number of them, without leading zeros: what NumberStyles.Integer reads.</summary>
    private static bool TryDecimal(string value, ReadOnlySpan<char> text, out string? number)
    {
        number = null;
        bool negative = text.Length > 0 && text[0] == '-';
        if (text.Length > 0 && text[0] is '-' or '+')
        {
            text = text[1..];
        }

        if (text.IsEmpty || text.ContainsAnyExceptInRange('0', '9'))
        {
            return false;
        }

        // The usual value is already canonical (no sign, zeros or white space to drop): it is kept, not copied.
        ReadOnlySpan<char> digits = text.TrimStart('0');
        number = digits.IsEmpty ? "0"
            : digits.Length + (negative ? 1 : 0) == value.Length ? value
            : negative ? string.Concat("-", digits) : digits.ToString();
        return true;
    }

    /// <summary>MVC's number converters read <c>0x</c>, <c>#</c> and <c>&amp;h</c> as hexadecimal.</summary>
    private static bool TryHex(ReadOnlySpan<char> text, out string? number)
    {
        number = null;
        int prefix = text.StartsWith('#') ? 1
            : text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || text.StartsWith("&h", StringComparison.OrdinalIgnoreCase) ? 2
            : 0;
        if (prefix == 0 || text.Length == prefix)
        {
            return false;
        }

        ReadOnlySpan<char> digits = text[prefix..].TrimStart('0');
        if (digits.Length > 16 || !ulong.TryParse(digits.IsEmpty ? "0".AsSpan() : digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong parsed))
        {
            return false;
        }

        number = parsed.ToString(CultureInfo.InvariantCulture);
        return true;
    }
}
