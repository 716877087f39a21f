using System.Text.RegularExpressions;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The only URLs EmailGuard fetches for SNS: https, default port, no user info, on a host such as
/// <c>sns.eu-west-1.amazonaws.com</c> (or <c>.amazonaws.com.cn</c>). The signing certificate must also end in <c>.pem</c>,
/// with no query or fragment: SNS never writes one, and each would be another cache entry and fetch of one certificate.
/// </summary>
internal static partial class SnsHosts
{
    [GeneratedRegex(@"^sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?$", RegexOptions.CultureInvariant)]
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
