using System.Buffers;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace EmailGuard;

/// <summary>
/// The fingerprint of a message's content: a hash of its normalized subject and body
/// (<see cref="ContentNormalizer"/>), so that one template filled in for many recipients is one fingerprint. Only the
/// fingerprint is kept (in a counter key); the content is never stored.
/// </summary>
/// <remarks>
/// The body is the plain-text body when it has any text, else the HTML body: a message sent once as text and once
/// wrapped in HTML is one fingerprint. Each part is read up to <see cref="MaxPartChars"/> characters, which bounds the
/// work per check; text beyond that is not needed to tell one template from another. The normalized text goes to a
/// pooled buffer and is hashed in place (SHA-256, first 128 bits): a check allocates only the fingerprint string.
/// </remarks>
internal static class ContentFingerprint
{
    /// <summary>The most characters of the subject and of the body that are read.</summary>
    public const int MaxPartChars = 256 * 1024;

    /// <summary>The fingerprint's length in characters (128 bits, base64url).</summary>
    public const int Length = 22;

    /// <summary>Computes the fingerprint of <paramref name="content"/>.</summary>
    public static string Compute(EmailContent content) => Compute(content, null, default, out _);

    /// <summary>
    /// Computes the fingerprint of <paramref name="content"/> and, with a <paramref name="sketch"/>, its near-duplicate
    /// band hashes into <paramref name="bandHashes"/> from the same normalized text.
    /// </summary>
    /// <param name="content">The content.</param>
    /// <param name="sketch">The near-duplicate sketch, or null for the exact fingerprint alone.</param>
    /// <param name="bandHashes">Room for <see cref="NearDuplicateSketch.Bands"/> x <see cref="NearDuplicateSketch.BandHashBytes"/> bytes.</param>
    /// <param name="hasBands">Whether band hashes were written: false without a sketch and for texts too short for one.</param>
    public static string Compute(EmailContent content, NearDuplicateSketch? sketch, Span<byte> bandHashes, out bool hasBands)
    {
        ArgumentNullException.ThrowIfNull(content);
        ReadOnlySpan<char> subject = Bounded(content.Subject);
        bool html = string.IsNullOrWhiteSpace(content.TextBody);
        ReadOnlySpan<char> body = Bounded(html ? content.HtmlBody : content.TextBody);
        char[] buffer = ArrayPool<char>.Shared.Rent(subject.Length + body.Length + 2);
        int written = 0;
        try
        {
            ContentNormalizer normalizer = new(buffer);
            normalizer.Append(subject, markup: false);
            normalizer.Append(body, html);
            ReadOnlySpan<char> normalized = normalizer.Written;
            written = normalized.Length;
            hasBands = sketch is not null && sketch.TryCompute(normalized, bandHashes);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(MemoryMarshal.AsBytes(normalized), hash);
            return Base64Url.EncodeToString(hash[..16]);
        }
        finally
        {
            // The buffer held the message's words; leave none of them in the pool.
            buffer.AsSpan(0, written).Clear();
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>The normalized text, for tests and diagnostics; never logged or stored.</summary>
    internal static string Normalize(EmailContent content)
    {
        ReadOnlySpan<char> subject = Bounded(content.Subject);
        bool html = string.IsNullOrWhiteSpace(content.TextBody);
        ReadOnlySpan<char> body = Bounded(html ? content.HtmlBody : content.TextBody);
        char[] buffer = new char[subject.Length + body.Length + 2];
        ContentNormalizer normalizer = new(buffer);
        normalizer.Append(subject, markup: false);
        normalizer.Append(body, html);
        return normalizer.Written.ToString();
    }

    private static ReadOnlySpan<char> Bounded(string? text)
        => text is null ? default : text.AsSpan(0, Math.Min(text.Length, MaxPartChars));
}
