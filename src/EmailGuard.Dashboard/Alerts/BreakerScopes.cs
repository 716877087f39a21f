namespace EmailGuard.Dashboard;

/// <summary>
/// What a tripped breaker acted on, the budget scope of its <see cref="EmailGuardAlertKinds.BreakerTripped"/> alert
/// (<see cref="EmailGuardAlert.BudgetScope"/>): client networks are as many as an attacker makes, so their bans must not
/// spend the budget in which a tenant's or a user's trip is alerted on its own.
/// </summary>
internal static class BreakerScopes
{
    /// <summary>A client network banned: by an endpoint policy's escalating bans or by a ratio breaker.</summary>
    public const string Network = "network";

    /// <summary>An endpoint policy's surge breaker.</summary>
    public const string Endpoint = "endpoint";

    /// <summary>The scope of a ratio breaker's trip: the network it banned, else its dimension (<c>tenant</c>, <c>user</c> …).</summary>
    public static string ForRatioBreaker(EmailGuardDimension dimension, EmailRatioBreakerAction action) => dimension switch
    {
        _ when action == EmailRatioBreakerAction.NetworkBanned => Network,
        EmailGuardDimension.ClientIp => Network,
        EmailGuardDimension.Global => "account",
        EmailGuardDimension.Tenant => "tenant",
        EmailGuardDimension.User => "user",
        EmailGuardDimension.Sender => "sender",
        EmailGuardDimension.Category => "category",
        _ => "other",
    };
}
