namespace EmailGuard;

/// <summary>What lists and flags decided for a message that may go on to the counters.</summary>
internal readonly record struct GuardPlan(EmailGuardDimension Skip, EmailGuardDimension[]? RecipientSkips, double TenantFactor, double UserFactor, double CategoryFactor = 1);
