namespace EmailGuard.AspNetCore;

/// <summary>What an endpoint policy answers while its surge breaker is tripped.</summary>
public enum EmailGuardSurgeAction
{
    /// <summary>Deny every request with the rejection status (429) and a <c>Retry-After</c> until the breaker recovers.</summary>
    Deny = 0,

    /// <summary>Answer "challenge required" (see <see cref="EmailGuardChallenge"/>) unless the request carries a passed challenge.</summary>
    Challenge = 1,
}
