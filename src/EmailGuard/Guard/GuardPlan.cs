namespace EmailGuard;

/// <summary>What lists and flags decided for a message that may go on to the counters.</summary>
/// <param name="Skip">The dimensions allowlisted parties skip.</param>
/// <param name="RecipientSkips">What each recipient skips, or null when none skips anything.</param>
/// <param name="TenantFactor">The tenant's flag's limit factor (1 when unflagged).</param>
/// <param name="UserFactor">The user's flag's limit factor.</param>
/// <param name="CategoryFactor">The category's flag's limit factor.</param>
/// <param name="PoolFactor">The limit factor of the flag of the tenant's pool (<see cref="EmailGuardPartyType.TenantPool"/>).</param>
internal readonly record struct GuardPlan(
    EmailGuardDimension Skip, EmailGuardDimension[]? RecipientSkips, double TenantFactor, double UserFactor, double CategoryFactor = 1, double PoolFactor = 1);
