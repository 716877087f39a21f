namespace EmailGuard;

/// <summary>
/// The caps in force, as one immutable whole: the rules of every dimension and the tenant pools'. A check reads the
/// guard's reference once (<see cref="GuardBuffers.Caps"/>) and decides by what it read, so a reload that swaps the
/// reference never gives one check some old rules and some new.
/// </summary>
internal sealed class SendGuardCaps(SendGuardRules rules, TenantPoolRules pools)
{
    public SendGuardRules Rules { get; } = rules;

    /// <summary>The tenant pools; <see cref="TenantPoolRules.Any"/> false when none has rules.</summary>
    public TenantPoolRules Pools { get; } = pools;
}
