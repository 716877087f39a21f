using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Client networks, users and a predicate that no policy or path rule limits.</summary>
internal sealed class EndpointAllowlist
{
    private readonly (IPAddress Network, int PrefixLength)[] _networks;
    private readonly HashSet<string> _users;
    private readonly Func<HttpContext, bool>? _predicate;

    private EndpointAllowlist((IPAddress, int)[] networks, HashSet<string> users, Func<HttpContext, bool>? predicate)
    {
        _networks = networks;
        _users = users;
        _predicate = predicate;
    }

    public static EndpointAllowlist Create(EmailGuardEndpointOptions options, List<string> errors)
    {
        var networks = new List<(IPAddress, int)>();
        for (int i = 0; i < options.AllowlistedNetworks.Count; i++)
        {
            string? entry = options.AllowlistedNetworks[i];
            if (!TryParseNetwork(entry, out IPAddress? network, out int prefix))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{EmailGuardEndpointOptions.ConfigurationSectionName}:AllowlistedNetworks:{StrictConfiguration.ItemKey(options.AllowlistedNetworks, i)}: '{entry}' is not an IP address or a CIDR network such as 10.0.0.0/8."));
                continue;
            }

            // A /0 network is every client: every endpoint limit would be off, with nothing at startup to say so; and a
            // few wide networks together (0.0.0.0/1 and 128.0.0.0/1) are every client too. The lists take no wider
            // network either (IEmailGuardLists.AddAsync).
            if (ListedNetworks.Breadth(prefix, ipv6: network!.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork) is { } what)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{EmailGuardEndpointOptions.ConfigurationSectionName}:AllowlistedNetworks:{StrictConfiguration.ItemKey(options.AllowlistedNetworks, i)}: '{entry}' {what} and would exempt every client from every endpoint limit; name the networks to trust, {ListedNetworks.NarrowEnough}."));
                continue;
            }

            networks.Add((network!, prefix));
        }

        var users = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < options.AllowlistedUsers.Count; i++)
        {
            // An empty entry names no one: an anonymous request has no user id and is never matched, but an entry of
            // spaces would exempt an authenticated user whose id is spaces, and either is a mistake in the list.
            if (string.IsNullOrWhiteSpace(options.AllowlistedUsers[i]))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{EmailGuardEndpointOptions.ConfigurationSectionName}:AllowlistedUsers:{StrictConfiguration.ItemKey(options.AllowlistedUsers, i)} is empty; name a user id as PerUser reads it (the NameIdentifier or sub claim, else the user name)."));
                continue;
            }

            users.Add(options.AllowlistedUsers[i]);
        }

        return new EndpointAllowlist([.. networks], users, options.AllowlistPredicate);
    }

    public bool IsEmpty => _networks.Length == 0 && _users.Count == 0 && _predicate is null;

    public bool Contains(HttpContext context)
    {
        if (_networks.Length > 0 && context.Connection.RemoteIpAddress is { } address)
        {
            foreach ((IPAddress network, int prefix) in _networks)
            {
                if (IpAddressGrouping.IsInNetwork(address, network, prefix))
                {
                    return true;
                }
            }
        }

        if (_users.Count > 0 && UserResolver.GetUserId(context) is { } user && _users.Contains(user))
        {
            return true;
        }

        return _predicate?.Invoke(context) == true;
    }

    private static bool TryParseNetwork(string? entry, out IPAddress? network, out int prefix)
    {
        network = null;
        prefix = 0;
        if (string.IsNullOrWhiteSpace(entry))
        {
            return false;
        }

        string value = entry.Trim();
        int slash = value.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(slash < 0 ? value : value[..slash], out network))
        {
            return false;
        }

        // An IPv4-mapped network (::ffff:10.20.0.0/112) is the IPv4 network it carries (10.20.0.0/16), as the lists read
        // it (IpAddressGrouping.TryParseNetwork): its prefix counts the 96 bits of the mapping, and its width is judged
        // by the IPv4 bound. Mapped before its prefix was read, a /112 was refused as "not an IP address".
        int mapping = 0;
        if (network.IsIPv4MappedToIPv6)
        {
            network = network.MapToIPv4();
            mapping = slash < 0 ? 0 : 96;
        }

        int max = network.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0)
        {
            prefix = max;
            return true;
        }

        if (!int.TryParse(value.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix < mapping || prefix - mapping > max)
        {
            return false;
        }

        prefix -= mapping;
        return true;
    }
}
