namespace EmailGuard;

/// <summary>
/// Callbacks the send guard raises so that an application can alert on abuse. Each takes an arguments object, so fields
/// can be added later without breaking callers, and returns a <see cref="ValueTask"/>.
/// </summary>
/// <remarks>
/// A callback never delays or breaks a send: one that completes at once costs nothing more; one that goes asynchronous
/// continues in the background while the decision returns. At most 64 callbacks of the send guard (and 64 of the flags) run
/// in the background at once; further events are dropped with a warning (event id 2070) rather than queued, so a stalled
/// alerting endpoint cannot grow memory during a flood. An exception from a callback is logged (event id 407) and swallowed.
/// </remarks>
/// <example>
/// <code>
/// o.Events.OnLimitExceeded = async args => await alerts.SendAsync($"{args.Usage.Dimension} limit hit");
/// </code>
/// </example>
public sealed class EmailGuardEvents
{
    /// <summary>
    /// Gets or sets the callback raised after every <see cref="IEmailSendGuard.CheckAsync"/>, allowed or denied, with
    /// the decision. It runs on every send: keep it to a few counter updates.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardCheckArguments, ValueTask>? OnChecked { get; set; }

    /// <summary>
    /// Gets or sets the callback raised after <see cref="IEmailSendGuard.RefundAsync"/> gave an allowed check's or
    /// reservation's permits back (the provider refused the mail, a queued mail failed at dequeue), once per refunded
    /// decision. Not raised for the permits the guard gives back itself within a check (a message the content inspector
    /// rejects is reported to <see cref="OnChecked"/> as a denial).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardRefundArguments, ValueTask>? OnRefunded { get; set; }

    /// <summary>Gets or sets the callback raised when a message is denied because a rule has no room.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardLimitArguments, ValueTask>? OnLimitExceeded { get; set; }

    /// <summary>
    /// Gets or sets the callback raised when an allowed message pushes a rule's count across
    /// <see cref="SendGuardOptions.NearLimitThreshold"/>; once per rule, partition and window.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardLimitArguments, ValueTask>? OnNearLimit { get; set; }

    /// <summary>Gets or sets the callback raised when a user is flagged (reduced limits or suspension).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardFlagArguments, ValueTask>? OnUserFlagged { get; set; }

    /// <summary>
    /// Gets or sets the callback raised when a tenant is flagged with reduced limits; also for a category or a tenant
    /// pool (<see cref="EmailGuardFlag.PartyType"/> says which: <see cref="EmailGuardPartyType.TenantPool"/> for a pool).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardFlagArguments, ValueTask>? OnTenantFlagged { get; set; }

    /// <summary>
    /// Gets or sets the callback raised when a tenant is suspended; also for a category or a tenant pool
    /// (<see cref="EmailGuardFlag.PartyType"/> says which: a suspended <see cref="EmailGuardPartyType.TenantPool"/> holds every tenant in it).
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailGuardFlagArguments, ValueTask>? OnTenantSuspended { get; set; }
}
