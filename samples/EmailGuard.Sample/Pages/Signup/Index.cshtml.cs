using EmailGuard.AspNetCore;
using EmailGuard.Sample.Accounts;
using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Mail;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.Sample.Pages.Signup;

/// <summary>
/// The signup form. The policy sits on the <c>OnPost</c> handler, not on the page: viewing the form (GET) never
/// spends the visitor's one sign-up per 15 minutes.
/// </summary>
public sealed class IndexModel(AccountMail accounts, IHostEnvironment environment) : PageModel
{
    /// <summary>Whether the form shows the development stand-in challenge, which only Development accepts (Program.cs).</summary>
    public bool OffersDevelopmentChallenge => environment.IsDevelopment();

    [BindProperty(SupportsGet = true)]
    public bool Invalid { get; set; }

    [BindProperty(SupportsGet = true)]
    public bool Undeliverable { get; set; }

    public void OnGet()
    {
    }

    [EmailRateLimit("signup")]
    public async Task<IActionResult> OnPostAsync(string? email)
    {
        // Mailed as typed; the guard folds it only to count it.
        if (!DeliveryAddress.TryParse(email, out string? address))
        {
            return Redirect("/signup?invalid=1");
        }

        // The guard's answer depends on the address and the network, never on whether the account exists.
        GuardVerdict verdict = await accounts.QueueSignupAsync(address, HttpContext.Connection.RemoteIpAddress?.ToString(), HttpContext.RequestAborted);
        return Redirect(verdict.Allowed ? "/signup/sent" : "/signup?undeliverable=1");
    }
}
