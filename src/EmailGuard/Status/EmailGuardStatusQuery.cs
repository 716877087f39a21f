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
}
