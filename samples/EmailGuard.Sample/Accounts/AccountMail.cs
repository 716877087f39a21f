using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Accounts;

/// <summary>
/// The mail behind the signup and password-reset forms, written so that the forms cannot tell anyone whether an
/// account exists. Both requests do the same work whatever the answer: one database statement, one guard check,
/// one mail queued, the same redirect. Nothing is sent in-line, so the response time does not depend on the account
/// either; the background worker sends (or, for a reset without an account, drops) the mail later.
/// </summary>
public sealed class AccountMail(SampleDatabase database, SampleMailer mailer, IOptions<MailOptions> mail, TimeProvider time)
{
    /// <summary>
    /// Creates the account if it is new, for <paramref name="address"/> as typed (<see cref="DeliveryAddress"/>). A new account gets a confirmation mail; an existing one gets a notice that
    /// someone tried to sign up with its address, so the owner learns of it and the visitor learns nothing.
    /// </summary>
    public Task<GuardVerdict> QueueSignupAsync(string address, string? clientIp, CancellationToken cancellationToken)
    {
        bool created = database.TryCreateAccount(address, time.GetUtcNow());
        OutgoingMail signup = created
            ? new(
                "signup",
                mail.Value.From,
                address,
                "Confirm your EmailGuard sample account",
                $"Welcome! Confirm your address {address} by opening the link below.\n\nhttps://sample.emailguard.test/confirm/{Guid.NewGuid():N}")
            : new(
                "signup",
                mail.Value.From,
                address,
                "Someone tried to sign up with your address",
                $"Someone tried to create an EmailGuard sample account for {address}, which already has one. If it was you, sign in or reset your password:\n\nhttps://sample.emailguard.test/password-reset");
        return mailer.QueueAsync(signup with { ClientIp = clientIp }, cancellationToken);
    }

    /// <summary>
    /// Queues a reset link whether or not the account exists; the worker checks the account when it takes the mail,
    /// and drops it when there is none (see <see cref="OutgoingMail.RequiresAccount"/>).
    /// </summary>
    public Task<GuardVerdict> QueueResetAsync(string address, string? clientIp, CancellationToken cancellationToken)
    {
        OutgoingMail reset = new(
            "password-reset",
            mail.Value.From,
            address,
            "Reset your EmailGuard sample password",
            $"Someone asked to reset the password of {address}. If it was you, open:\n\nhttps://sample.emailguard.test/reset/{Guid.NewGuid():N}")
        {
            ClientIp = clientIp,
            RequiresAccount = true,
        };
        return mailer.QueueAsync(reset, cancellationToken);
    }
}
