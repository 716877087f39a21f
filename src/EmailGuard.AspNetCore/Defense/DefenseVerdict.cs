namespace EmailGuard.AspNetCore;

/// <summary>What a policy's defenses say before its limits are counted. Zero means no: a default verdict rejects.</summary>
internal enum DefenseOutcome
{
    /// <summary>The client network is banned from the policy.</summary>
    Banned,

    /// <summary>The policy's surge breaker is tripped and denies.</summary>
    SurgeDenied,

    /// <summary>The policy wants a passed challenge and the request carries none.</summary>
    ChallengeRequired,

    /// <summary>Count the request against the policy's limits.</summary>
    Proceed,
}

/// <summary>A defense outcome and, for a ban or a tripped breaker, how long it still lasts.</summary>
internal readonly record struct DefenseVerdict(DefenseOutcome Outcome, TimeSpan RetryAfter)
{
    public static DefenseVerdict Proceed => new(DefenseOutcome.Proceed, TimeSpan.Zero);
}
