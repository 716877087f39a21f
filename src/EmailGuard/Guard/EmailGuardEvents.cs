namespace EmailGuard;

/// <summary>
/// Callbacks the send guard raises so that an application can alert on abuse. They run inline on the checking
/// thread: keep them short and hand slow work off. An exception from a callback is logged and swallowed.
/// </summary>
public sealed class EmailGuardEvents
{
    /// <summary>
    /// Gets or sets the callback raised after every <see cref="IEmailSendGuard.CheckAsync"/>, allowed or denied, with
    /// the decision. It runs on every send: keep it to a few counter updates.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<EmailGuardCheckEvent>? OnChecked { get; set; }

    /// <summary>Gets or sets the callback raised when a message is denied because a rule has no room.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<EmailGuardLimitEvent>? OnLimitExceeded { get; set; }

    /// <summary>
    /// Gets or sets the callback raised when an allowed message pushes a rule's count across
    /// <see cref="SendGuardOptions.NearLimitThreshold"/>; once per rule, partition and window.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<EmailGuardLimitEvent>? OnNearLimit { get; set; }

    /// <summary>Gets or sets the callback raised when a user is flagged (reduced limits or suspension).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<EmailGuardFlag>? OnUserFlagged { get; set; }

    /// <summary>Gets or sets the callback raised when a tenant is flagged with reduced limits.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<EmailGuardFlag>? OnTenantFlagged { get; set; }

    /// <summary>Gets or sets the callback raised when a tenant is suspended.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Action<EmailGuardFlag>? OnTenantSuspended { get; set; }
}
