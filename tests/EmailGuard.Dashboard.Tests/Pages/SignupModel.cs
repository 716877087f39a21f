using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.Dashboard.Tests.Pages;

/// <summary>A sign-up form as the sample has it: the policy on the OnPost handler, not on the page.</summary>
public sealed class SignupModel : PageModel
{
    public void OnGet()
    {
    }

    [EmailRateLimit("signup")]
    public IActionResult OnPost() => Content("posted");
}
