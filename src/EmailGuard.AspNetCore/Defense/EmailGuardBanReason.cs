namespace EmailGuard.AspNetCore;

/// <summary>Why a client network was banned from an endpoint policy.</summary>
public enum EmailGuardBanReason
{
    /// <summary>Not known: the default value, never raised.</summary>
    Unknown = 0,

    /// <summary>The policy's limits denied it too often (the escalating ban, Fail2Ban).</summary>
    Denials = 1,

    /// <summary>It made too many requests, admitted or not (Allow2Ban).</summary>
    Requests = 2,

    /// <summary>Mail its requests caused hard-bounced or drew complaints too often (the bounce ban).</summary>
    Bounces = 3,
}
