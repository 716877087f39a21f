using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace EmailGuard;

/// <summary>
/// Signs EmailGuard's attribution tags and checks their signature (<see cref="EmailFeedbackTags.SignatureTag"/>) with the
/// keys of <see cref="EmailFeedbackOptions.TagSigningKeys"/>: the first key signs, any of them verifies, so a key can be
/// rotated while mail signed with the one before still has bounces to come back.
/// </summary>
/// <remarks>
/// The signature is HMAC-SHA256, cut to its first 128 bits and written as 22 characters of base64url, which fit Postmark's
/// 80-character metadata values and SES's tag value characters. It covers every attribution tag present, each as its name
/// and value, both length-prefixed, in the fixed order of <see cref="SignedNames"/>: a tag dropped, added, renamed or moved
/// to another name changes what is signed, and no two tag sets encode alike.
/// </remarks>
internal sealed class FeedbackTagSigner
{
    /// <summary>The fewest bytes a key decodes to: the output size of SHA-256, as RFC 2104 recommends at least.</summary>
    internal const int MinKeyBytes = 32;

    /// <summary>The most bytes a key decodes to: SHA-256's block size, past which HMAC only hashes the key first.</summary>
    internal const int MaxKeyBytes = 64;

    /// <summary>The most keys listed: each one is tried on every tag set that does not verify under the first.</summary>
    internal const int MaxKeys = 8;

    /// <summary>The bytes of the HMAC kept: 128 bits.</summary>
    private const int SignatureBytes = 16;

    /// <summary>The length of a signature tag's value: <see cref="SignatureBytes"/> as base64url without padding.</summary>
    internal const int SignatureLength = 22;

    /// <summary>Tells this encoding apart from anything else a key might ever sign.</summary>
    private static readonly byte[] s_context = "EmailGuard feedback tags v1\n"u8.ToArray();

    /// <summary>The names, after <see cref="EmailFeedbackTags.Prefix"/>, of the tags the signature covers, in signing order.</summary>
    internal static readonly string[] SignedNames = ["id", "t", "tp", "u", "s", "s2", "c", "n", "p"];

    private readonly byte[][] _keys;

    private FeedbackTagSigner(byte[][] keys) => _keys = keys;

    /// <summary>The signer of <paramref name="keys"/>, or null when none are listed (tags are then neither signed nor checked).</summary>
    /// <exception cref="ArgumentException">A key is not base64 of <see cref="MinKeyBytes"/> to <see cref="MaxKeyBytes"/> bytes (the options validator says so at startup).</exception>
    public static FeedbackTagSigner? Create(IEnumerable<string>? keys)
    {
        List<byte[]> decoded = [];
        foreach (string key in keys ?? [])
        {
            decoded.Add(TryDecodeKey(key) ?? throw new ArgumentException(
                $"Each of {EmailFeedbackOptions.ConfigurationSectionName}:{nameof(EmailFeedbackOptions.TagSigningKeys)} must be base64 of {MinKeyBytes} to {MaxKeyBytes} bytes.", nameof(keys)));
        }

        return decoded.Count == 0 ? null : new FeedbackTagSigner([.. decoded]);
    }

    /// <summary>The bytes of a key written as base64, or null when it is not base64 of <see cref="MinKeyBytes"/> to <see cref="MaxKeyBytes"/> bytes.</summary>
    public static byte[]? TryDecodeKey(string? key)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            return null;
        }

        // The decoder skips whitespace, so a key read from a secret file (a trailing newline) or written as openssl
        // wraps it (a line break after 64 characters) is the key; a buffer too small for it refuses a longer one.
        Span<byte> buffer = stackalloc byte[MaxKeyBytes + 3];
        return key.Length <= 1024 && Convert.TryFromBase64String(key, buffer, out int written)
            && written is >= MinKeyBytes and <= MaxKeyBytes
            ? buffer[..written].ToArray()
            : null;
    }

    /// <summary>The signature of <paramref name="tags"/> (as <see cref="EmailFeedbackTags.Write"/> wrote them) under the first key.</summary>
    public string Sign(IReadOnlyDictionary<string, string> tags)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Mac(_keys[0], tags, mac);
        return Base64Url.EncodeToString(mac[..SignatureBytes]);
    }

    /// <summary>
    /// Whether <paramref name="tags"/> carry a signature that one of the keys made over the attribution tags they carry.
    /// Every comparison takes the same time whatever the bytes, so the answer tells nothing of how close a guess came.
    /// </summary>
    public FeedbackTagVerdict Verify(IReadOnlyDictionary<string, string> tags)
    {
        if (!tags.TryGetValue(EmailFeedbackTags.SignatureTag, out string? signature))
        {
            return FeedbackTagVerdict.Unsigned;
        }

        Span<byte> claimed = stackalloc byte[SignatureBytes];
        if (signature.Length != SignatureLength
            || !Base64Url.TryDecodeFromChars(signature, claimed, out int written)
            || written != SignatureBytes
            || Base64Url.EncodeToString(claimed) != signature)
        {
            return FeedbackTagVerdict.Invalid;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        bool valid = false;
        foreach (byte[] key in _keys)
        {
            Mac(key, tags, mac);
            valid |= CryptographicOperations.FixedTimeEquals(mac[..SignatureBytes], claimed);
        }

        return valid ? FeedbackTagVerdict.Verified : FeedbackTagVerdict.Invalid;
    }

    /// <summary>
    /// The HMAC of the canonical encoding: the context, then for each tag of <see cref="SignedNames"/> present, its name's
    /// length (one byte) and name, its value's length (four bytes, big-endian) and value, as UTF-8.
    /// </summary>
    private static void Mac(byte[] key, IReadOnlyDictionary<string, string> tags, Span<byte> destination)
    {
        int length = s_context.Length;
        foreach (string name in SignedNames)
        {
            if (tags.TryGetValue(EmailFeedbackTags.Prefix + name, out string? value))
            {
                length += 1 + EmailFeedbackTags.Prefix.Length + name.Length + 4 + Encoding.UTF8.GetByteCount(value);
            }
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int at = s_context.Length;
            s_context.CopyTo(buffer, 0);
            foreach (string name in SignedNames)
            {
                if (!tags.TryGetValue(EmailFeedbackTags.Prefix + name, out string? value))
                {
                    continue;
                }

                buffer[at++] = (byte)(EmailFeedbackTags.Prefix.Length + name.Length);
                at += Encoding.ASCII.GetBytes(EmailFeedbackTags.Prefix, buffer.AsSpan(at));
                at += Encoding.ASCII.GetBytes(name, buffer.AsSpan(at));
                int valueLength = Encoding.UTF8.GetBytes(value, buffer.AsSpan(at + 4));
                BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(at), valueLength);
                at += 4 + valueLength;
            }

            HMACSHA256.HashData(key, buffer.AsSpan(0, at), destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
