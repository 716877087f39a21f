using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>The scaffolded Identity shape: an <c>Input</c> model whose fields post as <c>Input.Email</c>.</summary>
[IgnoreAntiforgeryToken]
public sealed class InputPageModel(BoundValues bound) : PageModel
{
    [BindProperty]
    public SignupModel? Input { get; set; }

    public IActionResult OnPost()
    {
        bound.Add(Input?.Email);
        return Content(Input?.Email ?? string.Empty);
    }
}
