namespace EmailGuard;

/// <summary>
/// The arguments of <see cref="EmailGuardEvents.OnUserFlagged"/>, <see cref="EmailGuardEvents.OnTenantFlagged"/> and
/// <see cref="EmailGuardEvents.OnTenantSuspended"/>.
/// </summary>
public sealed class EmailGuardFlagArguments
{
    internal EmailGuardFlagArguments(EmailGuardFlag flag, EmailGuardFlag? replaced = null)
    {
        Flag = flag;
        Replaced = replaced;
    }

    /// <summary>Gets the flag that was set.</summary>
    public EmailGuardFlag Flag { get; }

    /// <summary>
    /// Gets the flag of the same party and reason that was still active when <see cref="Flag"/> was set, and which it
    /// replaced (a repeat, an extension, or a reduction turned into a suspension); <see langword="null"/> when the party
    /// had no such flag, because it never had one or the last one was cleared or had expired: a new incident.
    /// </summary>
    public EmailGuardFlag? Replaced { get; }
}
