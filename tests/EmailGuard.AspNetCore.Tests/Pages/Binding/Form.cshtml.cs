using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>A Razor page that binds the address as pages usually do: a bound property, from form, route or query.</summary>
[IgnoreAntiforgeryToken]
public sealed class FormPageModel(BoundValues bound) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? Email { get; set; }

    public IActionResult OnGet() => Page();

    public IActionResult OnPost()
    {
        bound.Add(Email);
        return Content(Email ?? string.Empty);
    }
}
