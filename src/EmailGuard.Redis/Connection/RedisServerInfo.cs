using System.Globalization;

namespace EmailGuard.Redis;

/// <summary>What a server said about itself in <c>INFO server</c>: which server it is, and its version.</summary>
/// <param name="Endpoint">Where it was reached.</param>
/// <param name="Name">The server's name: <c>redis</c>, <c>garnet</c> or <c>valkey</c> (<c>server_name</c>; Redis sends none).</param>
/// <param name="Version">The server's own version (<c>garnet_version</c>, <c>valkey_version</c> or <c>redis_version</c>).</param>
/// <param name="RedisVersion">The Redis version it claims compatibility with (<c>redis_version</c>).</param>
internal sealed record RedisServerInfo(string Endpoint, string Name, string Version, string RedisVersion)
{
    /// <summary>Whether this is Microsoft Garnet, which needs <c>--lua --lua-transaction-mode</c> for EmailGuard's scripts.</summary>
    public bool IsGarnet => string.Equals(Name, "garnet", StringComparison.OrdinalIgnoreCase);

    /// <summary>The major version of <see cref="RedisVersion"/>, or -1 when it cannot be read.</summary>
    public int RedisMajorVersion
    {
        get
        {
            int dot = RedisVersion.IndexOf('.', StringComparison.Ordinal);
            string major = dot < 0 ? RedisVersion : RedisVersion[..dot];
            return int.TryParse(major, NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : -1;
        }
    }

    /// <summary>Reads an <c>INFO server</c> reply.</summary>
    /// <param name="endpoint">Where it came from.</param>
    /// <param name="info">The reply.</param>
    /// <returns>The server's identity; fields the reply lacks are empty.</returns>
    public static RedisServerInfo Parse(string endpoint, string? info)
    {
        string name = "redis";
        string? ownVersion = null;
        string redisVersion = string.Empty;
        foreach (string raw in (info ?? string.Empty).Split('\n'))
        {
            string line = raw.Trim();
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            string field = line[..colon];
            string value = line[(colon + 1)..];
            switch (field)
            {
                case "server_name":
                    name = value;
                    break;
                case "redis_version":
                    redisVersion = value;
                    break;
                case "garnet_version" or "valkey_version":
                    ownVersion = value;
                    break;
            }
        }

        return new RedisServerInfo(endpoint, name, ownVersion ?? redisVersion, redisVersion);
    }
}
