using EmailGuard.Sample.Admin;
using EmailGuard.Sample.Mail;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Pages;

/// <summary>
/// The dev outbox. It lists every mail, so it tells who has an account (a reset for an address with no account is
/// Skipped): outside Development it answers 404 unless the admin key is presented.
/// </summary>
public sealed class OutboxModel(Outbox outbox, IWebHostEnvironment environment, IOptions<SampleOptions> options) : PageModel
{
    public IReadOnlyList<OutboxEntry> Entries { get; private set; } = [];

    public IActionResult OnGet()
    {
        if (!AdminKey.OpensDevPages(HttpContext, environment, options.Value))
        {
            return NotFound();
        }

        Entries = outbox.Snapshot();
        return Page();
    }
}
