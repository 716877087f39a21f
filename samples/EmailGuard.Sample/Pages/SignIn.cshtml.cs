using EmailGuard.Sample.Admin;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Pages;

/// <summary>
/// DEVELOPMENT-ONLY sign-in for the EmailGuard dashboard: the sample's admin key becomes a cookie that
/// <see cref="AdminKeyAuthenticationHandler"/> reads. A real app uses its own sign-in.
/// </summary>
public sealed class SignInModel(IOptions<SampleOptions> options) : PageModel
{
    private const string Dashboard = "/emailguard";

    public bool Configured => AdminKey.IsConfigured(options.Value);

    public bool SignedIn { get; private set; }

    public string? Message { get; private set; }

    /// <summary>Where to go after signing in: a local path only, so the form cannot be used as an open redirect.</summary>
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    public void OnGet() => SignedIn = AdminKey.IsAuthorized(HttpContext, options.Value);

    public IActionResult OnPost(string? key)
    {
        if (!Configured || !AdminKey.Matches(key, options.Value.AdminKey!))
        {
            Message = "That is not the admin key.";
            return Page();
        }

        Response.Cookies.Append(AdminKey.CookieName, key!, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, IsEssential = true });
        return LocalRedirect(Url.IsLocalUrl(ReturnUrl) ? ReturnUrl! : Dashboard);
    }

    public IActionResult OnPostSignOut()
    {
        Response.Cookies.Delete(AdminKey.CookieName);
        return RedirectToPage();
    }
}
