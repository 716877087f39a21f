using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore.Tests;

[ApiController]
[Route("mvc/mail")]
[EmailRateLimit("controller")]
public sealed class MailController : ControllerBase
{
    [HttpPost("share")]
    public IActionResult Share() => Ok();

    [HttpPost("reset")]
    [EmailRateLimit("action")]
    public IActionResult Reset() => Ok();

    [HttpGet("status")]
    [DisableEmailRateLimit]
    public IActionResult Status() => Ok();

    [HttpPost("signup")]
    [EmailRateLimit("action")]
    public IActionResult Signup([FromBody] SignupModel model) => Ok(model.Email);
}

public sealed record SignupModel(string Email, string? Name);
