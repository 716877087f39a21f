using EmailGuard.Sample.Admin;
using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Pages;

/// <summary>
/// Usage of every dimension, the blocklist, flags and suspensions, and the queue. Protected by a DEVELOPMENT-ONLY key
/// (see <see cref="AdminKey"/>).
/// </summary>
public sealed class AdminModel(InterimGuard guard, SampleDatabase database, MailQueue queue, IOptions<SampleOptions> options, TimeProvider timeProvider) : PageModel
{
    public bool Configured => AdminKey.IsConfigured(options.Value);

    public bool Authorized { get; private set; }

    public string? Message { get; private set; }

    public IReadOnlyList<UsageRow> Usage { get; private set; } = [];

    public IReadOnlyDictionary<string, string> Suspended => guard.Suspended;

    public IReadOnlyDictionary<string, string> Blocked => guard.Blocked;

    public IReadOnlyList<Tenant> Tenants { get; private set; } = [];

    public MailQueue Queue => queue;

    public async Task<IActionResult> OnGetAsync()
    {
        if (!(Authorized = AdminKey.IsAuthorized(HttpContext, options.Value)))
        {
            return Page();
        }

        await LoadAsync();
        return Page();
    }

    public IActionResult OnPostLogin(string? key)
    {
        if (!Configured || !AdminKey.Matches(key, options.Value.AdminKey!))
        {
            Message = "That is not the admin key.";
            return Page();
        }

        Response.Cookies.Append(AdminKey.CookieName, key!, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, IsEssential = true });
        return RedirectToPage();
    }

    public IActionResult OnPostLogout()
    {
        Response.Cookies.Delete(AdminKey.CookieName);
        return RedirectToPage();
    }

    public Task<IActionResult> OnPostSuspendAsync(string tenant, string? reason)
        => Act(() => guard.Suspend(tenant, string.IsNullOrWhiteSpace(reason) ? "manual" : reason), $"Suspended {tenant}.");

    public Task<IActionResult> OnPostClearAsync(string tenant)
        => Act(() => guard.Clear(tenant), $"Cleared {tenant}.");

    public Task<IActionResult> OnPostBlockAsync(string value, string? reason)
        => Act(() => guard.Block(value.Trim(), string.IsNullOrWhiteSpace(reason) ? "manual" : reason), $"Blocked {value}.");

    public Task<IActionResult> OnPostUnblockAsync(string value)
        => Act(() => guard.Unblock(value), $"Removed {value} from the blocklist.");

    public Task<IActionResult> OnPostPauseQueueAsync()
        => Act(queue.Pause, "Queue paused: queued mail waits, and is checked again when the queue resumes.");

    public async Task<IActionResult> OnPostResumeQueueAsync()
    {
        IActionResult result = await Act(queue.Resume, "Queue resumed.");
        if (Authorized)
        {
            try
            {
                // Wait briefly so the operator sees what became of the held mail, instead of a page that is already stale.
                await queue.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(10), timeProvider, HttpContext.RequestAborted);
                Message = "Queue resumed and drained: every held mail was checked again; see the outbox.";
            }
            catch (TimeoutException)
            {
                Message = $"Queue resumed; {queue.Pending} mails still waiting.";
            }

            await LoadAsync();
        }

        return result;
    }

    private async Task<IActionResult> Act(Action action, string done)
    {
        if (!(Authorized = AdminKey.IsAuthorized(HttpContext, options.Value)))
        {
            return StatusCode(StatusCodes.Status403Forbidden);
        }

        action();
        Message = done;
        await LoadAsync();
        return Page();
    }

    private async Task LoadAsync()
    {
        Tenants = database.GetTenants();
        List<UsageRow> rows = [];
        var global = await guard.UsageAsync("global", [InterimGuard.GlobalHourly, InterimGuard.GlobalDaily], HttpContext.RequestAborted);
        rows.Add(new UsageRow("Global", global[0].Count, global[0].Limit, global[1].Count, global[1].Limit));
        foreach (Tenant t in Tenants)
        {
            var usage = await guard.UsageAsync(
                $"tenant:{t.Id}",
                [InterimGuard.TenantHourly.WithLimit(t.HourlyLimit ?? InterimGuard.TenantHourly.Limit), InterimGuard.TenantDaily.WithLimit(t.DailyLimit ?? InterimGuard.TenantDaily.Limit)],
                HttpContext.RequestAborted);
            rows.Add(new UsageRow($"Tenant {t.Name} ({t.Id})", usage[0].Count, usage[0].Limit, usage[1].Count, usage[1].Limit));
        }

        Usage = rows;
    }

    public sealed record UsageRow(string Dimension, long HourCount, long HourLimit, long DayCount, long DayLimit);
}
