using EmailGuard.Sample.Admin;
using EmailGuard.Sample.Mail;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Pages;

/// <summary>
/// The dev outbox. It lists every mail, so it tells who has an account (a reset for an address with no account is
/// Skipped): outside Development it answers 404 unless the admin key is presented. Pausing and resuming the delivery
/// queue, the sample's own operator control next to the EmailGuard dashboard, needs the admin key everywhere.
/// </summary>
public sealed class OutboxModel(
    Outbox outbox, MailQueue queue, IEmailSendGuard guard, IWebHostEnvironment environment, IOptions<SampleOptions> options, TimeProvider timeProvider) : PageModel
{
    public IReadOnlyList<OutboxEntry> Entries { get; private set; } = [];

    /// <summary>The provider's budget the queue paces to: each global rule's window, and each active tenant's share.</summary>
    public EmailProviderBudget? Budget { get; private set; }

    /// <summary>Whether the visitor presented the admin key, and so may pause and resume the queue.</summary>
    public bool CanControlQueue { get; private set; }

    public string? Message { get; private set; }

    public Task<IActionResult> OnGetAsync() => ShowAsync();

    public async Task<IActionResult> OnPostPauseQueueAsync()
    {
        if (!AdminKey.IsAuthorized(HttpContext, options.Value))
        {
            return Forbid403();
        }

        queue.Pause();
        Message = "Queue paused: queued mail waits, and is checked again when the queue resumes.";
        return await ShowAsync();
    }

    public async Task<IActionResult> OnPostResumeQueueAsync()
    {
        if (!AdminKey.IsAuthorized(HttpContext, options.Value))
        {
            return Forbid403();
        }

        queue.Resume();
        try
        {
            // Wait briefly so the operator sees what became of the held mail, instead of a page that is already stale.
            await queue.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10), timeProvider, HttpContext.RequestAborted);
            Message = "Queue resumed and drained: every held mail was checked again.";
        }
        catch (TimeoutException)
        {
            Message = $"Queue resumed; {queue.Pending} mails still waiting.";
        }

        return await ShowAsync();
    }

    private async Task<IActionResult> ShowAsync()
    {
        if (!AdminKey.OpensDevPages(HttpContext, environment, options.Value))
        {
            return NotFound();
        }

        CanControlQueue = AdminKey.IsAuthorized(HttpContext, options.Value);
        Entries = outbox.Snapshot();
        Budget = await guard.GetProviderBudgetAsync(HttpContext.RequestAborted);
        return Page();
    }

    private StatusCodeResult Forbid403() => StatusCode(StatusCodes.Status403Forbidden);
}
