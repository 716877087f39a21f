using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// MVC actions that bind the address from each source. Not discovered by default (other tests' apps add this
/// assembly as an application part); <see cref="BindingApp"/> adds it by hand.
/// </summary>
[NonController]
[ApiController]
[Route("mvc/bind")]
public sealed class BindingController(BoundValues bound) : ControllerBase
{
    [HttpPost("json")]
    public IActionResult Json([FromBody] SignupModel model) => Bound(model.Email);

    [HttpPost("form")]
    public IActionResult Form([FromForm] string email) => Bound(email);

    [HttpPost("query")]
    public IActionResult Query(string email) => Bound(email);

    [HttpPost("route/{email}")]
    public IActionResult Route(string email) => Bound(email);

    [HttpPost("model")]
    public IActionResult Model([FromForm] SignupModel model) => Bound(model.Email);

    [HttpGet("status")]
    public IActionResult Status() => Ok();

    private OkObjectResult Bound(string? email)
    {
        bound.Add(email);
        return Ok(email);
    }
}

/// <summary>
/// An action without [ApiController] binds a simple parameter from every value provider: form, then route, then query.
/// </summary>
[NonController]
[Route("mvc/plain")]
public sealed class PlainBindingController(BoundValues bound) : Controller
{
    [HttpPost("any")]
    [IgnoreAntiforgeryToken]
    public IActionResult Any(string email)
    {
        bound.Add(email);
        return Ok(email);
    }
}
