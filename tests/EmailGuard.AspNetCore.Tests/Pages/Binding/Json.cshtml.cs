using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>A Razor page handler that binds a JSON body.</summary>
[IgnoreAntiforgeryToken]
public sealed class JsonPageModel(BoundValues bound) : PageModel
{
    public IActionResult OnPost([FromBody] SignupModel? model)
    {
        if (model is null)
        {
            return BadRequest();
        }

        bound.Add(model.Email);
        return Content(model.Email);
    }
}
