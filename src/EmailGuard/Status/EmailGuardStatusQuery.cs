using System.Net;

namespace EmailGuard;

/// <summary>The parties a status query reports on; the global scope is always included.</summary>
public sealed class EmailGuardStatusQuery
{
    /// <summary>Gets the tenant to report on.</summary>
    public string? TenantId { get; init; }

    /// <summary>Gets the user to report on.</summary>
    public string? UserId { get; init; }

    /// <summary>Gets the sender address to report on.</summary>
    public string? Sender { get; init; }

    /// <summary>Gets the recipient address to report on (its domain is included).</summary>
    public string? Recipient { get; init; }

    /// <summary>Gets the client IP to report on: the usage of the network the guard groups it into.</summary>
    public IPAddress? ClientIp { get; init; }

    /// <summary>Gets the category to report on.</summary>
    public string? Category { get; init; }

    /// <summary>
    /// Gets the tenant pool (an entry of <see cref="SendGuardOptions.TenantPools"/>) to report on by itself, with no
    /// tenant: the usage of each of its rules (the tenant dimension, partition <c>pool:&lt;name&gt;</c>), its flags and
    /// its ratios. The name is case-insensitive and trimmed, as a provider's <see cref="TenantLimits.Pool"/> is. A name
    /// with no rules is not reported but named in <see cref="EmailGuardStatus.UnknownTenantPool"/>. Queried with
    /// <see cref="TenantId"/>, both are reported, and the pool once when it is the tenant's own.
    /// </summary>
    public string? TenantPool { get; init; }
}
