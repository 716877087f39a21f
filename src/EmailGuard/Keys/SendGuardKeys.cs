namespace EmailGuard;

/// <summary>
/// The counter keys of the send guard's parties, each kind in its own bounded cache, so a check builds no strings
/// for parties it has seen: addresses (normalized and hashed), tenant, user and category ids, and client networks.
/// </summary>
internal sealed class SendGuardKeys(SendGuardOptions options)
{
    public AddressKeyCache Addresses { get; } = new(options.AddressNormalization);

    public IdKeyCache Tenants { get; } = new(PartitionKeys.TenantPrefix);

    public IdKeyCache Users { get; } = new(PartitionKeys.UserPrefix);

    public IdKeyCache Categories { get; } = new(PartitionKeys.CategoryPrefix, lowerCase: true);

    public ClientIpKeyCache ClientIps { get; } = new(options.IPv6PrefixLength);
}
