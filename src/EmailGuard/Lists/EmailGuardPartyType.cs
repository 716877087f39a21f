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
}
