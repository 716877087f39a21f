namespace EmailGuard;

/// <summary>
/// The arguments of <see cref="EmailGuardEvents.OnUserFlagged"/>, <see cref="EmailGuardEvents.OnTenantFlagged"/> and
/// <see cref="EmailGuardEvents.OnTenantSuspended"/>.
/// </summary>
public sealed class EmailGuardFlagArguments
{
    internal EmailGuardFlagArguments(EmailGuardFlag flag) => Flag = flag;

    /// <summary>Gets the flag that was set.</summary>
    public EmailGuardFlag Flag { get; }
}
