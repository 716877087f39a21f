using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace EmailGuard;

/// <summary>
/// Turns the values that identify a party (an address, an id, a value resolved from a request) into parts of store
/// keys: short plain values stay readable in the store, and anything else is replaced by its hash, so raw addresses
/// and long or odd values are not spread across store keys. The send guard and the endpoint middleware build their
/// keys with it; a store or a custom partition can use it to read or build the same keys.
/// </summary>
/// <remarks>
/// The formats are stable: a key written by one version means the same counter to the next. A hash is SHA-256 of the
/// value's UTF-8 bytes, the first 128 bits as 32 lower-case hexadecimal digits. A hashed part starts with
/// <see cref="HashedPrefix"/>. No plain id contains <c>:</c>, and no plain request value starts with
/// <see cref="HashedPrefix"/> (such a value is hashed too), so a hashed part never equals a plain one: a caller cannot
/// name another party's hashed counter by sending its key part as a value.
/// </remarks>
public static class StoreKeyEncoding
{
    /// <summary>The start of a hashed key part: <c>h:</c>, then <see cref="Hash(string)"/> of the value.</summary>
    public const string HashedPrefix = "h:";

    /// <summary>The longest id that <see cref="EncodeId(string)"/> keeps as it is.</summary>
    public const int MaxPlainIdLength = 64;

    /// <summary>The longest value that <see cref="EncodeValue(string)"/> keeps as it is.</summary>
    public const int MaxPlainValueLength = 128;

    /// <summary>Values up to this many UTF-8 bytes are hashed from a stack buffer.</summary>
    private const int MaxStackBytes = 1024;

    /// <summary>Hashes a value: SHA-256 of its UTF-8 bytes, the first 128 bits as 32 lower-case hexadecimal digits.</summary>
    /// <param name="value">The value, for example a normalized address.</param>
    /// <returns>The 32-character hash.</returns>
    public static string Hash(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= MaxStackBytes ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        int written = Encoding.UTF8.GetBytes(value, utf8);
        SHA256.HashData(utf8[..written], hash);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return Convert.ToHexStringLower(hash[..16]);
    }

    /// <summary>
    /// Encodes an id of a party the send guard counts (a tenant, a user, a category). An id of 1 to
    /// <see cref="MaxPlainIdLength"/> ASCII letters, digits, <c>-</c>, <c>_</c> or <c>.</c> is kept as it is (tenant
    /// <c>acme</c> stays <c>acme</c>); any other id (an address, a long or non-ASCII id) becomes
    /// <see cref="HashedPrefix"/> and its <see cref="Hash(string)"/>.
    /// </summary>
    /// <param name="id">The id.</param>
    /// <returns>The key part.</returns>
    public static string EncodeId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length is > 0 and <= MaxPlainIdLength && IsPlainId(id))
        {
            return id;
        }

        return HashedPrefix + Hash(id);
    }

    /// <summary>
    /// Encodes a value that an endpoint partition resolved from a request (a route value, a claim, a custom key). A
    /// value of at most <see cref="MaxPlainValueLength"/> printable ASCII characters without spaces that does not start
    /// with <see cref="HashedPrefix"/> is kept as it is; any other value becomes <see cref="HashedPrefix"/> and its
    /// <see cref="Hash(string)"/>.
    /// </summary>
    /// <param name="value">The value.</param>
    /// <returns>The key part.</returns>
    public static string EncodeValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        // A value that looks like a hashed part is hashed as well: kept plain, "h:" and the hash of a long or odd value
        // would count on that value's counter, so one caller could spend another's limit.
        if (value.Length <= MaxPlainValueLength && IsPrintable(value) && !value.StartsWith(HashedPrefix, StringComparison.Ordinal))
        {
            return value;
        }

        return HashedPrefix + Hash(value);
    }

    private static bool IsPlainId(string id)
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

    private static bool IsPrintable(string value)
    {
        foreach (char c in value)
        {
            if (c <= ' ' || c > '~')
            {
                return false;
            }
        }

        return true;
    }
}
