using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EmailGuard.AspNetCore.Tests.RazorPages;

/// <summary>A form page: viewing it is free, posting it is limited, and a second form on it has its own policy.</summary>
public sealed class FormsModel : PageModel
{
    public string Ran { get; private set; } = "none";

    public void OnGet() => Ran = "get";

    [EmailRateLimit("signup")]
    public IActionResult OnPost() => Content("post");

    [EmailRateLimit("share")]
    public IActionResult OnPostShare() => Content("share");

    [DisableEmailRateLimit]
    public IActionResult OnPostPreview() => Content("preview");

    [EmailRateLimit("signup")]
    public IActionResult OnDelete() => Content("delete");
}

/// <summary>The attribute on the page model class: it covers the page's POST, never its GET.</summary>
[EmailRateLimit("signup")]
public sealed class WholePageModel : PageModel
{
    public string Ran { get; private set; } = "none";

    public void OnGet() => Ran = "get";

    public IActionResult OnPost() => Content("post");

    [EmailRateLimit("share")]
    public IActionResult OnPostShare() => Content("share");
}

/// <summary>The attribute on the class with explicit methods: only PUT is limited.</summary>
[EmailRateLimit("signup", Methods = ["PUT"])]
public sealed class PutOnlyModel : PageModel
{
    public string Ran { get; private set; } = "none";

    public void OnGet() => Ran = "get";

    public IActionResult OnPost() => Content("post");

    public IActionResult OnPut() => Content("put");
}

/// <summary>Only discovered by the startup-failure test: the attribute sits on a method that is not a handler.</summary>
public sealed class MisplacedModel : PageModel
{
    public void OnGet() => Prepare();

    [EmailRateLimit("signup")]
    public void Prepare()
    {
    }
}

/// <summary>Only discovered by the startup-failure test: methods on a handler, which has one method already.</summary>
public sealed class MethodsOnHandlerModel : PageModel
{
    [EmailRateLimit("signup", Methods = ["GET"])]
    public IActionResult OnPost() => Content("post");
}
