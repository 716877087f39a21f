using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// The TTL invariant of the state store: whatever has an expiry (list entries with one, flags, the event log) has a
/// TTL; only the version counter, the indexes, the change log (bounded by count) and list entries without expiry may be
/// permanent.
/// </summary>
internal static class RedisGuardStateAssertions
{
    public static async Task<IReadOnlyList<string>> KeysWithoutTtlAsync(IConnectionMultiplexer multiplexer, string prefix)
    {
        string root = $"{prefix}{{{prefix}guard}}:";
        HashSet<string> permanent = [root + "version", root + "lists", root + "flags", root + "changes"];
        IDatabase db = multiplexer.GetDatabase();
        List<string> violations = [];
        foreach ((RedisKey key, TimeSpan? ttl) in await RedisServerFixture.ScanWithTtlAsync(multiplexer, prefix))
        {
            string name = key.ToString();
            if (ttl is not null || permanent.Contains(name))
            {
                continue;
            }

            bool permanentEntry = name.StartsWith(root + "l:", StringComparison.Ordinal)
                && !((string?)await db.StringGetAsync(key) ?? string.Empty).Contains("\"ExpiresAt\"", StringComparison.Ordinal);
            if (!permanentEntry)
            {
                violations.Add(name);
            }
        }

        return violations;
    }
}
