namespace EmailGuard;

/// <summary>The kinds of party a list entry or a flag names.</summary>
public enum EmailGuardPartyType
{
    /// <summary>A recipient address (normalized).</summary>
    Recipient = 0,

    /// <summary>A sender address (normalized).</summary>
    Sender = 1,

    /// <summary>A recipient domain (IDNA ASCII, lower case).</summary>
    RecipientDomain = 2,

    /// <summary>A tenant id.</summary>
    Tenant = 3,

    /// <summary>A user id.</summary>
    User = 4,

    /// <summary>
    /// A client network: a single IPv4 or IPv6 address or a CIDR network (<c>203.0.113.0/24</c>, <c>2001:db8::/48</c>),
    /// stored as <c>network/prefix</c>. The endpoint middleware denies or admits requests from it by longest prefix.
    /// </summary>
    ClientNetwork = 5,

    /// <summary>
    /// A recipient within one message category, written <c>category:address</c> (for example
    /// <c>newsletter:jane@example.com</c>): a blocklist entry denies mail of that category to that address only, as an
    /// unsubscribe does. The category is matched case-insensitively, the address as a recipient.
    /// </summary>
    CategoryRecipient = 6,

    /// <summary>
    /// A message category (lower case), for flags only: the account-wide ratio breaker reduces the limits of the risky
    /// categories (<see cref="EmailRatioBreakerOptions.RiskyCategories"/>) while the account's ratios near the provider's
    /// line, and an operator may flag a category by hand.
    /// </summary>
    Category = 7,

    /// <summary>
    /// A tenant pool (<see cref="SendGuardOptions.TenantPools"/>), by its name in lower case, for flags only: the ratio
    /// breakers reduce, then suspend, a pool whose tenants together bounce or draw complaints over the lines (a rogue that
    /// spreads its mail over many trial tenants, each under <see cref="EmailRatioBreakerOptions.MinimumSends"/>), and an
    /// operator may flag or clear a pool by hand. A reduced pool's rules are cut to
    /// <see cref="EmailRatioBreakerOptions.ReducedLimitFactor"/>; a suspended pool denies every tenant in it.
    /// </summary>
    TenantPool = 8,
}
