using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EmailGuard.Dashboard;

/// <summary>
/// How the generic webhook is signed, so a receiver can check that an alert comes from this application and is recent:
/// <c>X-EmailGuard-Timestamp</c> carries the Unix time in seconds, and <c>X-EmailGuard-Signature</c> carries
/// <c>v1=</c> followed by the lower-case hex HMAC-SHA256, keyed with the shared secret (UTF-8), of the timestamp, a dot,
/// and the raw request body.
/// </summary>
public static class EmailGuardWebhookSignature
{
    /// <summary>The header with the Unix time in seconds at which the alert was signed.</summary>
    public const string TimestampHeader = "X-EmailGuard-Timestamp";

    /// <summary>The header with the signature, <c>v1=&lt;hex&gt;</c>.</summary>
    public const string SignatureHeader = "X-EmailGuard-Signature";

    /// <summary>Computes the signature header's value.</summary>
    /// <param name="secret">The shared secret.</param>
    /// <param name="timestamp">The Unix time in seconds, as sent in <see cref="TimestampHeader"/>.</param>
    /// <param name="body">The raw request body.</param>
    /// <returns><c>v1=</c> and the hex HMAC.</returns>
    public static string Compute(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        byte[] prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        byte[] message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        byte[] mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message);
        return "v1=" + Convert.ToHexStringLower(mac);
    }

    /// <summary>
    /// Checks a received alert: the signature matches (compared in constant time) and the timestamp is within
    /// <paramref name="tolerance"/> of <paramref name="now"/>, which refuses replays of old alerts.
    /// </summary>
    /// <param name="secret">The shared secret.</param>
    /// <param name="timestampHeader">The <see cref="TimestampHeader"/> value received.</param>
    /// <param name="signatureHeader">The <see cref="SignatureHeader"/> value received.</param>
    /// <param name="body">The raw request body received.</param>
    /// <param name="now">The receiver's current time.</param>
    /// <param name="tolerance">How far the timestamp may be from <paramref name="now"/>, e.g. 5 minutes.</param>
    /// <returns>Whether the alert is authentic and recent.</returns>
    public static bool Verify(string secret, string? timestampHeader, string? signatureHeader, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrEmpty(secret) || signatureHeader is null
            || !long.TryParse(timestampHeader, NumberStyles.None, CultureInfo.InvariantCulture, out long timestamp))
        {
            return false;
        }

        if (Math.Abs(now.ToUnixTimeSeconds() - timestamp) > tolerance.TotalSeconds)
        {
            return false;
        }

        string expected = Compute(secret, timestamp, body);
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(signatureHeader.Trim()));
    }
}
