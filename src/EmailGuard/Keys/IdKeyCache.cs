namespace EmailGuard;

/// <summary>Remembers the counter key of tenant, user and category ids so a check does not build strings. Bounded.</summary>
internal sealed class IdKeyCache(string prefix, bool lowerCase = false, int capacity = BoundedKeyCache<string, string>.DefaultCapacity)
{
    private readonly BoundedKeyCache<string, string> _cache = new(capacity, StringComparer.Ordinal);

    public string Get(string id) => Get(id, _cache.NowMs());

    /// <summary>As <see cref="Get(string)"/>, with the cache's clock read moments ago (<see cref="SendGuardKeys.NowMs"/>).</summary>
    public string Get(string id, long nowMs)
    {
        if (_cache.TryGetValue(id, nowMs, out string? key))
        {
            return key;
        }

        key = PartitionKeys.ForId(prefix, lowerCase ? id.ToLowerInvariant() : id);
        if (id.Length <= 256)
        {
            _cache.TryAdd(id, key);
        }

        return key;
    }
}
