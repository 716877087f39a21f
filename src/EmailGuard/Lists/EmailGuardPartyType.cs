namespace EmailGuard;

/// <summary>The kinds of party a list entry or a flag names.</summary>
public enum EmailGuardPartyType
{
    /// <summary>A recipient address (normalized).</summary>
    Recipient = 0,

    /// <summary>A sender address (normalized).</summary>
    Sender = 1,

    /// <summary>A recipient domain (IDNA ASCII, lower case).</summary>
    Domain = 2,

    /// <summary>A tenant id.</summary>
    Tenant = 3,

    /// <summary>A user id.</summary>
    User = 4,

    /// <summary>
    /// A recipient within one message category, written <c>category:address</c> (for example
    /// <c>newsletter:jane@example.com</c>): a blocklist entry denies mail of that category to that address only, as an
    /// unsubscribe does. The category is matched case-insensitively, the address as a recipient.
    /// </summary>
    CategoryRecipient = 5,
}
