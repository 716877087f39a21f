using System.Globalization;

namespace EmailGuard;

/// <summary>
/// How wide a client network the lists take: at most a /8 of IPv4 or a /32 of IPv6 per entry. Refusing only the
/// network of every address (<c>/0</c>) left <c>0.0.0.0/1</c> and <c>128.0.0.0/1</c>, together every client; with
/// this bound an allowlist that covers every IPv4 client takes 256 deliberate entries, and every IPv6 one 2^32. The
/// blocklist has the same bound: an entry that wide refuses a large part of the internet (all of it at <c>/0</c>), an
/// outage rather than a block, and nothing in the lists' API asks for a confirmation that would make it deliberate.
/// <c>EmailGuard:Endpoints:AllowlistedNetworks</c> refuses the same at startup.
/// </summary>
internal static class ListedNetworks
{
    /// <summary>The widest IPv4 network a list takes.</summary>
    public const int WidestIPv4Prefix = 8;

    /// <summary>The widest IPv6 network a list takes.</summary>
    public const int WidestIPv6Prefix = 32;

    /// <summary>How narrow an entry must be, for the operator's messages.</summary>
    public static readonly string NarrowEnough = string.Create(CultureInfo.InvariantCulture, $"each /{WidestIPv4Prefix} (IPv4) or /{WidestIPv6Prefix} (IPv6) or narrower");

    /// <summary>
    /// Why a network, in the form <see cref="IpAddressGrouping.NormalizeNetwork"/> writes it, is too wide for
    /// <paramref name="kind"/>, or <see langword="null"/> when it is not.
    /// </summary>
    public static string? TooWide(EmailGuardListKind kind, string value, string normalized)
    {
        int slash = normalized.LastIndexOf('/');
        if (slash < 0
            || !int.TryParse(normalized.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int prefix)
            || Breadth(prefix, ipv6: normalized.Contains(':', StringComparison.Ordinal)) is not { } what)
        {
            return null;
        }

        return kind == EmailGuardListKind.Allowlist
            ? $"'{LogValue.Of(value)}' {what}: it would exempt every client from every limit; allowlist the networks to trust, {NarrowEnough}."
            : $"'{LogValue.Of(value)}' {what}: it would refuse every client it covers, not a party to block; block the networks that send the abuse, {NarrowEnough}.";
    }

    /// <summary>
    /// What is wrong with a network of <paramref name="prefix"/> bits, <c>is every address</c> or <c>is wider than a
    /// /8, …</c>, or <see langword="null"/> when it is narrow enough for a list (and for
    /// <c>EmailGuard:Endpoints:AllowlistedNetworks</c>, which links this file).
    /// </summary>
    public static string? Breadth(int prefix, bool ipv6)
    {
        int widest = ipv6 ? WidestIPv6Prefix : WidestIPv4Prefix;
        return prefix >= widest ? null
            : prefix == 0 ? "is every address"
            : string.Create(CultureInfo.InvariantCulture, $"is wider than a /{widest}, and a few such networks together are every address");
    }
}
