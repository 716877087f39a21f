namespace EmailGuard;

/// <summary>Which list an entry is on.</summary>
public enum EmailGuardListKind
{
    /// <summary>Messages involving the party are denied before any counter moves.</summary>
    Blocklist = 0,

    /// <summary>Messages involving the party skip the dimensions configured in <see cref="SendGuardOptions.Allowlist"/>.</summary>
    Allowlist = 1,
}
