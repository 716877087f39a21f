namespace EmailGuard;

/// <summary>
/// The dimensions an allowlisted party skips. A recipient's or domain's skips apply to that recipient's own counters,
/// and to the message-wide dimensions only when every recipient of the message skips them.
/// </summary>
[RenamedSetting("Domain", nameof(RecipientDomain))]
public sealed class AllowlistSkipOptions
{
    /// <summary>Gets or sets what an allowlisted recipient skips.</summary>
    /// <value>The default value is <see cref="EmailGuardDimension.Recipient"/> and <see cref="EmailGuardDimension.RecipientDomain"/>.</value>
    public EmailGuardDimension Recipient { get; set; } = EmailGuardDimension.Recipient | EmailGuardDimension.RecipientDomain;

    /// <summary>Gets or sets what recipients at an allowlisted domain skip.</summary>
    /// <value>The default value is <see cref="EmailGuardDimension.RecipientDomain"/>.</value>
    public EmailGuardDimension RecipientDomain { get; set; } = EmailGuardDimension.RecipientDomain;

    /// <summary>Gets or sets what an allowlisted sender skips.</summary>
    /// <value>The default value is <see cref="EmailGuardDimension.Sender"/>.</value>
    public EmailGuardDimension Sender { get; set; } = EmailGuardDimension.Sender;

    /// <summary>Gets or sets what an allowlisted tenant skips.</summary>
    /// <value>The default value is <see cref="EmailGuardDimension.Tenant"/>.</value>
    public EmailGuardDimension Tenant { get; set; } = EmailGuardDimension.Tenant;

    /// <summary>Gets or sets what an allowlisted user skips.</summary>
    /// <value>The default value is <see cref="EmailGuardDimension.User"/>.</value>
    public EmailGuardDimension User { get; set; } = EmailGuardDimension.User;
}
