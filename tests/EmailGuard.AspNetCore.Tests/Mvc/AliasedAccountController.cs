using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// One signup action at four paths (two controller routes times two action routes), as apps keep an old path beside a
/// new one; a confirm action at a similar path; and an invite action with a route value under two routes.
/// </summary>
[Route("aliased")]
[Route("v2/aliased")]
[IgnoreAntiforgeryToken]
public sealed class AliasedAccountController : ControllerBase
{
    [HttpPost("signup")]
    [HttpPost("register")]
    public IActionResult Signup() => Ok();

    [HttpPost("signup/confirm")]
    public IActionResult Confirm() => Ok();

    [HttpPost("tenants/{tenant}/invite")]
    [HttpPost("orgs/{tenant}/invite")]
    public IActionResult Invite(string tenant) => Ok(tenant);
}
