using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Accounts;

/// <summary>
/// The form posts of the signup and password-reset pages. They are endpoints of their own, not page handlers, so
/// the endpoint limits apply to the POST that sends mail and never to viewing the form.
/// </summary>
internal static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/forms/signup", SignupAsync).RequireEmailRateLimit("signup");
        endpoints.MapPost("/forms/password-reset", ResetAsync).RequireEmailRateLimit("password-reset");
        return endpoints;
    }

    private static async Task<IResult> SignupAsync(
        [FromForm] string? email, HttpContext http, SampleDatabase database, SampleMailer mailer, IOptions<MailOptions> mail, TimeProvider time)
    {
        if (!EmailAddressNormalizer.TryNormalize(email, stripPlusTag: false, out NormalizedEmailAddress address, out _))
        {
            return Results.Redirect("/signup?invalid=1");
        }

        database.TryCreateAccount(address.Address, time.GetUtcNow());
        OutgoingMail confirmation = new(
            "signup",
            mail.Value.From,
            address.Address,
            "Confirm your EmailGuard sample account",
            $"Welcome! Confirm your address {address.Address} by opening the link below.\n\nhttps://sample.emailguard.test/confirm/{Guid.NewGuid():N}")
        {
            ClientIp = http.Connection.RemoteIpAddress?.ToString(),
        };

        GuardVerdict verdict = await mailer.SendNowAsync(confirmation, http.RequestAborted);
        return verdict.Allowed ? Results.Redirect("/signup/sent") : Results.Redirect("/signup?undeliverable=1");
    }

    private static async Task<IResult> ResetAsync(
        [FromForm] string? email, HttpContext http, SampleDatabase database, SampleMailer mailer, IOptions<MailOptions> mail)
    {
        // Whatever happens below, the visitor sees the same page, so the form cannot tell who has an account.
        IResult same = Results.Redirect("/password-reset/sent");
        if (!EmailAddressNormalizer.TryNormalize(email, stripPlusTag: false, out NormalizedEmailAddress address, out _)
            || !database.AccountExists(address.Address))
        {
            return same;
        }

        OutgoingMail reset = new(
            "password-reset",
            mail.Value.From,
            address.Address,
            "Reset your EmailGuard sample password",
            $"Someone asked to reset the password of {address.Address}. If it was you, open:\n\nhttps://sample.emailguard.test/reset/{Guid.NewGuid():N}")
        {
            ClientIp = http.Connection.RemoteIpAddress?.ToString(),
        };

        await mailer.SendNowAsync(reset, http.RequestAborted);
        return same;
    }
}
