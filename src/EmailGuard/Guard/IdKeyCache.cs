using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>Remembers the counter key of tenant, user and category ids so a check does not build strings. Bounded.</summary>
internal sealed class IdKeyCache(string prefix, bool lowerCase = false, int capacity = 20_000)
{
    private readonly ConcurrentDictionary<string, string> _cache = new(StringComparer.Ordinal);

    public string Get(string id)
    {
        if (_cache.TryGetValue(id, out string? key))
        {
            return key;
        }

        key = PartitionKeys.ForId(prefix, lowerCase ? id.ToLowerInvariant() : id);
        if (id.Length <= 256)
        {
            if (_cache.Count >= capacity)
            {
                _cache.Clear();
            }

            _cache.TryAdd(id, key);
        }

        return key;
    }
}
