namespace EmailGuard.AspNetCore;

/// <summary>How the guarded ASP.NET Core Identity email sender describes Identity's mails to the send guard.</summary>
/// <typeparam name="TUser">The Identity user type.</typeparam>
public sealed class IdentityEmailGuardOptions<TUser>
    where TUser : class
{
    /// <summary>Gets or sets the category of account confirmation mails.</summary>
    /// <value>The default value is <c>identity-confirmation</c>.</value>
    public string ConfirmationCategory { get; set; } = "identity-confirmation";

    /// <summary>Gets or sets the category of password reset mails (links and codes).</summary>
    /// <value>The default value is <c>identity-password-reset</c>.</value>
    public string PasswordResetCategory { get; set; } = "identity-password-reset";

    /// <summary>Gets or sets the From address the app's sender uses, so the sender dimension applies.</summary>
    /// <value>The default value is <see langword="null"/>: no sender dimension.</value>
    public string? Sender { get; set; }

    /// <summary>
    /// Gets or sets how to read a user's id, for the user dimension and user flags. Return null for a user without one:
    /// an empty or white-space id is refused (<see cref="EmailSendReason.InvalidParty"/>).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no user dimension.</value>
    public Func<TUser, string?>? UserId { get; set; }

    /// <summary>
    /// Gets or sets how to read a user's tenant, for the tenant dimension. Return null for a user in no tenant: an empty
    /// or white-space id (a <c>CHAR(n)</c> column of spaces, a column defaulted to <c>''</c>) is refused
    /// (<see cref="EmailSendReason.InvalidParty"/>).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no tenant dimension.</value>
    public Func<TUser, string?>? TenantId { get; set; }

    /// <summary>
    /// Gets or sets whether a denial throws <see cref="EmailSendDeniedException"/>. When <see langword="false"/>, the
    /// mail is dropped and the denial only logged, so a signup or reset form does not reveal that a limit was hit.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ThrowOnDenied { get; set; } = true;
}
