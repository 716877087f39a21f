using System.Security.Cryptography;
using System.Text;

namespace EmailGuard;

/// <summary>
/// The counter keys of the send guard. All start with <c>send:</c> so they never share a counter with endpoint
/// policies; addresses are hashed (SHA-256, first 128 bits, hex) so raw addresses are not spread across store keys.
/// </summary>
internal static class PartitionKeys
{
    public const string Global = "send:g";
    public const string TenantPrefix = "send:t:";
    public const string SenderPrefix = "send:s:";
    public const string RecipientPrefix = "send:r:";
    public const string DomainPrefix = "send:d:";
    public const string UserPrefix = "send:u:";
    public const string ClientIpPrefix = "send:ip:";
    public const string CategoryPrefix = "send:c:";

    /// <summary>Ids longer than this, or with characters outside a safe set, are hashed too.</summary>
    private const int MaxPlainIdLength = 64;

    public static string Hash(string value)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= 1024 ? stackalloc byte[max] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(max));
        int written = Encoding.UTF8.GetBytes(value, utf8);
        SHA256.HashData(utf8[..written], hash);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }

        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>A key for an id: kept readable when short and plain (tenant <c>acme</c>), hashed otherwise (a user id that is an address).</summary>
    public static string ForId(string prefix, string id)
    {
        if (id.Length is > 0 and <= MaxPlainIdLength && IsPlain(id))
        {
            return prefix + id;
        }

        return prefix + "h:" + Hash(id);
    }

    private static bool IsPlain(string id)
    {
        foreach (char c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
