using System.Text.RegularExpressions;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The only URLs EmailGuard fetches for SNS: https, default port, no user info, on an SNS region's host such as
/// <c>sns.eu-west-1.amazonaws.com</c> (or <c>.amazonaws.com.cn</c>). The signing certificate must also end in <c>.pem</c>,
/// with no query or fragment: SNS never writes one, and each would be another cache entry and fetch of one certificate.
/// </summary>
internal static partial class SnsHosts
{
    /// <summary>
    /// <c>sns.</c>, a region name (<c>eu-west-1</c>, <c>us-gov-west-1</c>, <c>cn-north-1</c>) and an AWS domain. Any
    /// label of three or more letters, digits and dashes admitted S3's legacy bucket endpoints too
    /// (<c>sns.s3-accelerate.amazonaws.com</c>, <c>sns.s3-us-west-2.amazonaws.com</c>): https on an amazonaws.com host,
    /// serving whatever the owner of the bucket named <c>sns</c> put there, a certificate that would verify forged bounces
    /// and complaints. A region name starts with letters, so no S3 endpoint (<c>s3…</c>) matches.
    /// </summary>
    [GeneratedRegex(@"^sns\.[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(\.cn)?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex HostPattern();

    public static bool IsTrusted(string? url, bool requirePem, out Uri? uri)
    {
        uri = null;
        if (string.IsNullOrEmpty(url) || !Uri.TryCreate(url, UriKind.Absolute, out Uri? parsed))
        {
            return false;
        }

        if (parsed.Scheme != Uri.UriSchemeHttps || !parsed.IsDefaultPort || parsed.UserInfo.Length != 0
            || !HostPattern().IsMatch(parsed.IdnHost)
            || (requirePem && (!parsed.AbsolutePath.EndsWith(".pem", StringComparison.Ordinal) || parsed.Query.Length != 0 || parsed.Fragment.Length != 0)))
        {
            return false;
        }

        uri = parsed;
        return true;
    }
}
