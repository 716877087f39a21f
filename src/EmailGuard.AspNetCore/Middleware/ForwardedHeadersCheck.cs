using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Decides whether the app trusts a proxy to set <c>X-Forwarded-For</c>, for the one-time warning.
/// </summary>
/// <remarks>
/// The heuristic: a proxy is trusted when <see cref="ForwardedHeadersOptions"/> enables <c>X-Forwarded-For</c> and
/// either names a proxy or network outside loopback (the defaults), or names none at all (the
/// <c>ASPNETCORE_FORWARDEDHEADERS_ENABLED</c> setup, which trusts every sender). Per request, a header that the
/// forwarded-headers middleware applied is gone or leaves <c>X-Original-For</c> behind; one that reaches EmailGuard
/// untouched was applied by nobody, and the partition is the connection's address.
/// </remarks>
internal static class ForwardedHeadersCheck
{
    public static bool HasTrustedProxy(ForwardedHeadersOptions? options)
    {
        if (options is null || (options.ForwardedHeaders & ForwardedHeaders.XForwardedFor) == 0)
        {
            return false;
        }

        if (options.KnownProxies.Count == 0 && options.KnownIPNetworks.Count == 0)
        {
            return true;
        }

        foreach (IPAddress proxy in options.KnownProxies)
        {
            if (!IPAddress.IsLoopback(proxy))
            {
                return true;
            }
        }

        foreach (System.Net.IPNetwork network in options.KnownIPNetworks)
        {
            if (!IPAddress.IsLoopback(network.BaseAddress))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether any client can choose the address the app sees: <c>X-Forwarded-For</c> is applied, no proxy or network
    /// is named, so the forwarded-headers middleware takes the header from every sender, and <c>ForwardLimit</c> is not 1,
    /// so it walks past the entry the app's own proxy appended to one the client wrote.
    /// </summary>
    /// <remarks>
    /// With <c>ForwardLimit</c> 1 and exactly one proxy in front, the one entry taken is the proxy's, which the client
    /// cannot write; EmailGuard cannot see the topology, so that setup is left alone.
    /// </remarks>
    public static bool TrustsEverySender(ForwardedHeadersOptions? options)
        => options is not null
            && (options.ForwardedHeaders & ForwardedHeaders.XForwardedFor) != 0
            && options.KnownProxies.Count == 0
            && options.KnownIPNetworks.Count == 0
            && options.ForwardLimit != 1;
}
