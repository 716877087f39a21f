namespace EmailGuard;

/// <summary>
/// The counter keys of the send guard's parties, each kind in its own bounded cache, so a check builds no strings
/// for parties it has seen: addresses (normalized and hashed), tenant, user and category ids, and client networks.
/// </summary>
/// <remarks>
/// Every cache here ages its entries on the system clock, so one reading of <see cref="NowMs"/> serves a check's
/// lookups in all of them: a check looks up four or more keys, and each lookup read the clock (a few nanoseconds each).
/// </remarks>
internal sealed class SendGuardKeys(SendGuardOptions options)
{
    /// <summary>
    /// The clock of every cache here, read once for the lookups of one check: <see cref="Environment.TickCount64"/>,
    /// since the caches are built without a <see cref="TimeProvider"/>. The guard hands this same reading to the state
    /// cache and the in-memory store, which take it as their tick on the system clock.
    /// </summary>
    public long NowMs() => Addresses.NowMs();

    public AddressKeyCache Addresses { get; } = new(options.AddressNormalization);

    public IdKeyCache Tenants { get; } = new(PartitionKeys.TenantPrefix);

    public IdKeyCache Users { get; } = new(PartitionKeys.UserPrefix);

    public IdKeyCache Categories { get; } = new(PartitionKeys.CategoryPrefix, lowerCase: true);

    public ClientIpKeyCache ClientIps { get; } = new(options.IPv4PrefixLength, options.IPv6PrefixLength);
}
