namespace EmailGuard;

/// <summary>
/// Remembers validated, normalized and hashed addresses by the string the app passed, so that repeated recipients cost
/// one dictionary lookup instead of parsing, IDN mapping and SHA-256. Bounded (<see cref="BoundedKeyCache{TKey, TValue}"/>),
/// so random addresses from an attacker cost memory only up to the bound and do not push out addresses in use.
/// </summary>
internal sealed class AddressKeyCache(EmailAddressNormalizationOptions normalization, int capacity = AddressKeyCache.DefaultCapacity)
{
    public const int DefaultCapacity = BoundedKeyCache<string, GuardAddress>.DefaultCapacity;

    /// <summary>Longer inputs are never valid; they are not kept so they cannot bloat the cache.</summary>
    private const int MaxCachedLength = 4 * EmailAddressNormalizer.MaxAddressLength;

    private readonly BoundedKeyCache<string, GuardAddress> _cache = new(capacity, StringComparer.Ordinal);

    public EmailAddressNormalizationOptions Normalization => normalization;

    /// <summary>The cache's clock; see <see cref="BoundedKeyCache{TKey, TValue}.NowMs"/>.</summary>
    public long NowMs() => _cache.NowMs();

    public GuardAddress Get(string? raw) => Get(raw, _cache.NowMs());

    /// <summary>As <see cref="Get(string?)"/>, with the cache's clock read moments ago (<see cref="NowMs"/>).</summary>
    public GuardAddress Get(string? raw, long nowMs)
    {
        BoundedKeyCache<string, GuardAddress>.Entry? none = null;
        return Get(raw, nowMs, ref none);
    }

    /// <summary>
    /// As <see cref="Get(string?, long)"/>, first by the identity of <paramref name="raw"/> in the caller's own slot
    /// (see <see cref="BoundedKeyCache{TKey, TValue}.TryGetValue(TKey, long, ref BoundedKeyCache{TKey, TValue}.Entry?, out TValue)"/>),
    /// which must hold only this cache's entries.
    /// </summary>
    public GuardAddress Get(string? raw, long nowMs, ref BoundedKeyCache<string, GuardAddress>.Entry? remembered)
    {
        if (raw is null)
        {
            return GuardAddress.Create(raw, normalization);
        }

        if (_cache.TryGetValue(raw, nowMs, ref remembered, out GuardAddress? address))
        {
            return address;
        }

        address = GuardAddress.Create(raw, normalization);
        if (raw.Length <= MaxCachedLength)
        {
            _cache.TryAdd(raw, address);
        }

        return address;
    }
}
