namespace EmailGuard.Dashboard;

/// <summary>
/// The flag a ratio breaker's trip set (a tenant's, tenant pool's, user's or risky category's reduced limits or suspension), which its
/// <see cref="EmailGuardAlertKinds.BreakerTripped"/> alert names: that alert is the trip's one page, and the flag's own
/// alert is not sent (<see cref="EmailRatioBreakerOptions.FlaggedBy"/>).
/// </summary>
internal readonly record struct BreakerFlag(EmailGuardPartyType PartyType, string PartyId, string Reason, bool Suspend, DateTimeOffset ExpiresAt)
{
    /// <summary>The flag a ratio breaker's trip set; null for a client network's ban, which sets none.</summary>
    public static BreakerFlag? Of(EmailRatioBreakerArguments tripped)
    {
        if (tripped.TenantPool is { } pool)
        {
            return new BreakerFlag(EmailGuardPartyType.TenantPool, pool, tripped.Reason, tripped.Action == EmailRatioBreakerAction.Suspended, tripped.ExpiresAt);
        }

        EmailGuardPartyType? partyType = tripped.Action == EmailRatioBreakerAction.NetworkBanned ? null : tripped.Dimension switch
        {
            EmailGuardDimension.Tenant => EmailGuardPartyType.Tenant,
            EmailGuardDimension.User => EmailGuardPartyType.User,
            EmailGuardDimension.Category => EmailGuardPartyType.Category,
            _ => null,
        };
        return partyType is { } type
            ? new BreakerFlag(type, tripped.Partition, tripped.Reason, tripped.Action == EmailRatioBreakerAction.Suspended, tripped.ExpiresAt)
            : null;
    }
}
