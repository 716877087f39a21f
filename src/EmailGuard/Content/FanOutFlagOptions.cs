namespace EmailGuard;

/// <summary>
/// When a user (or, for messages without one, a tenant) whose recipients are mostly new to it flags itself with
/// <see cref="EmailGuardFlagReasons.FanOut"/>, bound from <c>EmailGuard:SendGuard:FanOut</c>. Off by default
/// (<see cref="NewRecipients"/> = 0). The flag's effect is the reason's <see cref="FlagPolicy"/> in
/// <see cref="SendGuardOptions.FlagPolicies"/>.
/// </summary>
/// <remarks>
/// <para>A recipient is new to a party the first time the party sends to it within <see cref="Memory"/>; it is known
/// when the party first sent to it before the current <see cref="Period"/> began. Recipients first seen earlier in the
/// same period count as neither, so sending again to this hour's new recipients does not dilute the share.</para>
/// <para>The party is flagged once per period when, within it, at least <see cref="NewRecipients"/> recipients were new
/// and they were at least <see cref="NewShare"/> of the new and known recipients together.</para>
/// <para>Cost, only when enabled: per admitted message, one key-value lookup per recipient (up to
/// <see cref="MaxRecipientsPerMessage"/>, in parallel) and one store acquire. Memory: one key per party and recipient,
/// kept for <see cref="Memory"/> (on Redis, about 100 bytes each; in memory, bounded by
/// <see cref="EmailFeedbackOptions.MaxInMemoryMappings"/> with the message-id mappings, which forgets expired entries
/// first, then the oldest).</para>
/// </remarks>
public sealed class FanOutFlagOptions
{
    /// <summary>Gets or sets how many new recipients within <see cref="Period"/> can flag the party; 0 never flags.</summary>
    /// <value>The default value is 0 (off).</value>
    public int NewRecipients { get; set; }

    /// <summary>Gets or sets the share of the period's recipients that must be new, from 0 (any) to 1 (all).</summary>
    /// <value>The default value is 0.8.</value>
    public double NewShare { get; set; } = 0.8;

    /// <summary>Gets or sets the window new recipients are counted in (fixed windows, aligned like every other rule's).</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan Period { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Gets or sets how long a recipient stays known to a party after the party first sent to it.</summary>
    /// <value>The default value is 30 days.</value>
    public TimeSpan Memory { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Gets or sets how many recipients of one message are looked at; the rest count as neither new nor known.</summary>
    /// <value>The default value is 20.</value>
    public int MaxRecipientsPerMessage { get; set; } = 20;
}
