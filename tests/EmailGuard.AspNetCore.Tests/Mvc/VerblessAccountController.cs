using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>An action without a verb attribute, reached through the conventional route: MVC runs it for every method.</summary>
public sealed class VerblessAccountController : Controller
{
    [IgnoreAntiforgeryToken]
    public IActionResult Register() => Ok();
}
