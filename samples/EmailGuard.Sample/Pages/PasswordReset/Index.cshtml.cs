using EmailGuard.AspNetCore;
using EmailGuard.Sample.Accounts;
using EmailGuard.Sample.Mail;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.Sample.Pages.PasswordReset;

/// <summary>
/// The password-reset form, limited on <c>OnPost</c> only. Whatever the address, the visitor gets the same redirect
/// after the same work: the reset mail is queued, and the worker drops it if there is no account.
/// </summary>
public sealed class IndexModel(AccountMail accounts) : PageModel
{
    public void OnGet()
    {
    }

    [EmailRateLimit("password-reset")]
    public async Task<IActionResult> OnPostAsync(string? email)
    {
        if (DeliveryAddress.TryParse(email, out string? address))
        {
            await accounts.QueueResetAsync(address, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        }

        return Redirect("/password-reset/sent");
    }
}
