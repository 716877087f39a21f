using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>Remembers the counter key of tenant, user and category ids so a check does not build strings. Bounded.</summary>
internal sealed class IdKeyCache(string prefix, bool lowerCase = false, int capacity = BoundedKeyCache<string, string>.DefaultCapacity)
{
    private readonly BoundedKeyCache<string, string> _cache = new(capacity, StringComparer.Ordinal);

    public string Get(string id) => Get(id, _cache.NowMs());

    /// <summary>As <see cref="Get(string)"/>, with the cache's clock read moments ago (<see cref="SendGuardKeys.NowMs"/>).</summary>
    public string Get(string id, long nowMs)
    {
        return _cache.TryGetValue(id, nowMs, out string? key) ? key : Add(id);
    }

    /// <summary>
    /// As <see cref="Get(string, long)"/>, first by the identity of <paramref name="id"/> in the caller's own slot
    /// (see <see cref="BoundedKeyCache{TKey, TValue}.TryGetValue(TKey, long, ref BoundedKeyCache{TKey, TValue}.Entry?, out TValue)"/>),
    /// which must hold only this cache's entries.
    /// </summary>
    public string Get(string id, long nowMs, ref BoundedKeyCache<string, string>.Entry? remembered)
    {
        return _cache.TryGetValue(id, nowMs, ref remembered, out string? key) ? key : Add(id);
    }

    /// <summary>The key of an id not cached, cached from now on unless very long.</summary>
    /// <remarks>Not inlined: a check inlines <see cref="Get(string, long)"/>, and this path's temporaries would widen its frame, zeroed on every call.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private string Add(string id)
    {
        string key = PartitionKeys.ForId(prefix, lowerCase ? id.ToLowerInvariant() : id);
        if (id.Length <= 256)
        {
            _cache.TryAdd(id, key);
        }

        return key;
    }
}
