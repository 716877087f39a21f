using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// Remembers validated, normalized and hashed addresses by the string the app passed, so that repeated recipients cost
/// one dictionary lookup instead of parsing, IDN mapping and SHA-256. Bounded: when full it starts over, so random
/// addresses from an attacker cost memory only up to the bound.
/// </summary>
internal sealed class AddressKeyCache(EmailAddressNormalizationOptions normalization, int capacity = AddressKeyCache.DefaultCapacity)
{
    public const int DefaultCapacity = 20_000;

    /// <summary>Longer inputs are never valid; they are not kept so they cannot bloat the cache.</summary>
    private const int MaxCachedLength = 4 * EmailAddressNormalizer.MaxAddressLength;

    private readonly ConcurrentDictionary<string, GuardAddress> _cache = new(StringComparer.Ordinal);

    public EmailAddressNormalizationOptions Normalization => normalization;

    public GuardAddress Get(string? raw)
    {
        if (raw is null)
        {
            return GuardAddress.Create(raw, normalization);
        }

        if (_cache.TryGetValue(raw, out GuardAddress? address))
        {
            return address;
        }

        address = GuardAddress.Create(raw, normalization);
        if (raw.Length <= MaxCachedLength)
        {
            if (_cache.Count >= capacity)
            {
                _cache.Clear();
            }

            _cache.TryAdd(raw, address);
        }

        return address;
    }
}
