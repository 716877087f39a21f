using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.Sample.Pages.Signup;

public sealed class IndexModel : PageModel
{
    [BindProperty(SupportsGet = true)]
    public bool Invalid { get; set; }

    [BindProperty(SupportsGet = true)]
    public bool Undeliverable { get; set; }
}
