namespace EmailGuard;

/// <summary>
/// What <see cref="IEmailGuardStateStore.ReplaceFlagAsync"/> returns: the flag its write replaced, read in that same
/// write, so that a suspension lands at its first store call instead of after a read of the flags.
/// </summary>
public sealed class EmailGuardFlagReplacement
{
    /// <summary>Creates the answer of a flag write.</summary>
    /// <param name="replaced">The flag the store held under the same party and reason before the write; <see langword="null"/> when none.</param>
    public EmailGuardFlagReplacement(EmailGuardFlag? replaced) => Replaced = replaced;

    /// <summary>Gets the answer of a write that replaced no flag.</summary>
    public static EmailGuardFlagReplacement None { get; } = new(null);

    /// <summary>
    /// Gets the flag the store held under the same party and reason (the reason compared without regard to case) just
    /// before the write, as it was stored; it may have expired already, which the caller decides by its
    /// <see cref="EmailGuardFlag.ExpiresAt"/>. <see langword="null"/> when the store held none.
    /// </summary>
    public EmailGuardFlag? Replaced { get; }
}
