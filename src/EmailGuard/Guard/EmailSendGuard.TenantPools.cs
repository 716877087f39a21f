namespace EmailGuard;

/// <summary>The flags of a tenant's pool: a pool the ratio breakers (or an operator) flagged holds every tenant in it.</summary>
internal sealed partial class EmailSendGuard
{
    /// <summary>
    /// Looks the flags of the tenant's pool up, from the provider's answer that gave the tenant's rules: a suspended
    /// pool denies the message, before any counter moves; a reduced one cuts the pool's rules (<see cref="GuardPlan.PoolFactor"/>).
    /// Only when pools are configured and some party is flagged: one more flag lookup in the snapshot the check holds.
    /// </summary>
    /// <returns>The pool that denies the message, or null.</returns>
    private PartyDenial? ScreenPool(TenantPoolRules pools, TenantLimitAnswer tenantLimits, GuardStateSnapshot state, ref GuardPlan plan)
    {
        // Skipped with the tenant's own rules, as the pool's counters are (GuardPlanBuilder).
        if ((plan.Skip & EmailGuardDimension.Tenant) != 0 || pools.For(tenantLimits) is not { } pool)
        {
            return null;
        }

        FlagEffect effect = state.GetFlagEffect(EmailGuardPartyType.TenantPool, pool.Name, _timeProvider.GetUtcNow());
        if (effect.Suspension is { } suspension)
        {
            return new PartyDenial(EmailGuardDimension.Tenant, pool.Partition, null, null, suspension);
        }

        plan = plan with { PoolFactor = effect.LimitFactor };
        return null;
    }
}
