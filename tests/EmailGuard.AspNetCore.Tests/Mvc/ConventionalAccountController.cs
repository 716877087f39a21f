using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Actions reached through the conventional route <c>{controller=Home}/{action=Index}/{id?}</c>, as MVC apps map it, or
/// through the routes and dynamic route a test maps: a signup, a confirm beside it, and an invite with a tenant.
/// </summary>
public sealed class ConventionalAccountController : Controller
{
    [HttpPost]
    [IgnoreAntiforgeryToken]
    public IActionResult Signup() => Ok();

    [HttpPost]
    [IgnoreAntiforgeryToken]
    public IActionResult Confirm() => Ok();

    [HttpPost]
    [IgnoreAntiforgeryToken]
    public IActionResult Invite(string tenant) => Ok(tenant);
}
