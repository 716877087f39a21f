using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>An action reached through the conventional route <c>{controller=Home}/{action=Index}/{id?}</c>, as MVC apps map it.</summary>
public sealed class ConventionalAccountController : Controller
{
    [HttpPost]
    [IgnoreAntiforgeryToken]
    public IActionResult Signup() => Ok();
}
