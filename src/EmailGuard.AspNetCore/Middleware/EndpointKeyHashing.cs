using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace EmailGuard.AspNetCore;

/// <summary>How the middleware turns partition values into store-safe key parts: plain when short and printable, hashed otherwise.</summary>
internal static class EndpointKeyHashing
{
    private const int MaxPlainKeyValueLength = 128;

    /// <summary>
    /// The normalized address, hashed, so raw addresses never end up in store keys. A value that is not a valid address
    /// is folded as far as it goes, so its look-alike spellings share a key too.
    /// </summary>
    public static string HashAddress(string value, EmailAddressNormalizationOptions normalization)
        => Hash(EmailAddressNormalizer.GetPartitionValue(value, normalization));

    /// <summary>Short printable values stay readable in the store; anything long or odd is hashed.</summary>
    public static string EncodeValue(string value)
    {
        if (value.Length <= MaxPlainKeyValueLength)
        {
            bool plain = true;
            foreach (char c in value)
            {
                if (c <= ' ' || c > '~')
                {
                    plain = false;
                    break;
                }
            }

            if (plain)
            {
                return value;
            }
        }

        return "h:" + Hash(value);
    }

    public static string Hash(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[] rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int written = Encoding.UTF8.GetBytes(value, rented);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(rented.AsSpan(0, written), hash);
            return Convert.ToHexStringLower(hash[..16]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
