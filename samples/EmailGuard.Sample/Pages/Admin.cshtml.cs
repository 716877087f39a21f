using EmailGuard.Sample.Admin;
using EmailGuard.Sample.Mail;
using EmailGuard.Sample.Tenants;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace EmailGuard.Sample.Pages;

/// <summary>
/// Usage of every dimension, the blocklist, flags and suspensions, and the delivery queue: the send guard's status,
/// list and flag APIs behind one screen. Protected by a DEVELOPMENT-ONLY key (see <see cref="AdminKey"/>).
/// </summary>
public sealed class AdminModel(
    IEmailSendGuard guard,
    IEmailGuardLists lists,
    IEmailGuardFlags flags,
    SampleDatabase database,
    MailQueue queue,
    IOptions<SampleOptions> options,
    TimeProvider timeProvider) : PageModel
{
    private const string Operator = "sample-admin";

    public bool Configured => AdminKey.IsConfigured(options.Value);

    public bool Authorized { get; private set; }

    public string? Message { get; private set; }

    public bool MessageIsError { get; private set; }

    public IReadOnlyList<UsageRow> Usage { get; private set; } = [];

    public IReadOnlyList<TenantRow> Tenants { get; private set; } = [];

    public IReadOnlyList<EmailGuardListEntry> Blocklist { get; private set; } = [];

    /// <summary>The client-network deny and allow entries the endpoint middleware applies.</summary>
    public IReadOnlyList<EmailGuardListEntry> ClientNetworks { get; private set; } = [];

    public MailQueue Queue => queue;

    public static IReadOnlyList<EmailGuardPartyType> PartyTypes { get; } = Enum.GetValues<EmailGuardPartyType>();

    public async Task<IActionResult> OnGetAsync()
    {
        if (Authorized = AdminKey.IsAuthorized(HttpContext, options.Value))
        {
            await LoadAsync();
        }

        return Page();
    }

    public IActionResult OnPostLogin(string? key)
    {
        if (!Configured || !AdminKey.Matches(key, options.Value.AdminKey!))
        {
            Fail("That is not the admin key.");
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

    public Task<IActionResult> OnPostSuspendAsync(string tenant)
        => ActAsync(
            async ct => await flags.FlagAsync(EmailGuardPartyType.Tenant, tenant, EmailGuardFlagReasons.Manual, flaggedBy: Operator, cancellationToken: ct),
            $"Suspended tenant {tenant}: its new mail is refused, and its queued mail fails at dequeue.");

    public Task<IActionResult> OnPostFlagAsync(string tenant)
        => ActAsync(
            async ct => await flags.FlagAsync(EmailGuardPartyType.Tenant, tenant, EmailGuardFlagReasons.HighBounceRate, flaggedBy: Operator, cancellationToken: ct),
            $"Flagged tenant {tenant} for a high bounce rate: reduced limits for 24 hours.");

    public Task<IActionResult> OnPostClearAsync(string tenant)
        => ActAsync(
            async ct => await flags.ClearAsync(EmailGuardPartyType.Tenant, tenant, clearedBy: Operator, cancellationToken: ct),
            $"Cleared every flag of tenant {tenant}.");

    public Task<IActionResult> OnPostBlockAsync(EmailGuardPartyType partyType, string value, string? reason, int? hours)
        => ActAsync(
            async ct => await lists.AddAsync(
                EmailGuardListKind.Blocklist,
                partyType,
                value,
                string.IsNullOrWhiteSpace(reason) ? "manual" : reason,
                Operator,
                hours is > 0 ? TimeSpan.FromHours(hours.Value) : null,
                ct),
            $"Blocklisted {partyType} {value}.");

    public Task<IActionResult> OnPostUnblockAsync(EmailGuardPartyType partyType, string value)
        => ActAsync(
            async ct => await lists.RemoveAsync(EmailGuardListKind.Blocklist, partyType, value, ct),
            $"Removed {partyType} {value} from the blocklist.");

    public Task<IActionResult> OnPostAddNetworkAsync(EmailGuardListKind kind, string value, string? reason, int? hours)
        => ActAsync(
            async ct => await lists.AddAsync(
                kind,
                EmailGuardPartyType.ClientNetwork,
                value,
                string.IsNullOrWhiteSpace(reason) ? "manual" : reason,
                Operator,
                hours is > 0 ? TimeSpan.FromHours(hours.Value) : null,
                ct),
            $"Added client network {value} to the {(kind == EmailGuardListKind.Blocklist ? "deny" : "allow")} list; every instance applies it within seconds.");

    public Task<IActionResult> OnPostRemoveNetworkAsync(EmailGuardListKind kind, string value)
        => ActAsync(
            async ct => await lists.RemoveAsync(kind, EmailGuardPartyType.ClientNetwork, value, ct),
            $"Removed client network {value}.");

    public Task<IActionResult> OnPostPauseQueueAsync()
        => ActAsync(
            _ =>
            {
                queue.Pause();
                return Task.CompletedTask;
            },
            "Queue paused: queued mail waits, and is checked again when the queue resumes.");

    public async Task<IActionResult> OnPostResumeQueueAsync()
    {
        IActionResult result = await ActAsync(_ => Task.CompletedTask, string.Empty);
        if (!Authorized)
        {
            return result;
        }

        queue.Resume();
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
        return result;
    }

    private async Task<IActionResult> ActAsync(Func<CancellationToken, Task> action, string done)
    {
        if (!(Authorized = AdminKey.IsAuthorized(HttpContext, options.Value)))
        {
            return StatusCode(StatusCodes.Status403Forbidden);
        }

        try
        {
            await action(HttpContext.RequestAborted);
            Message = done;
        }
        catch (ArgumentException ex)
        {
            Fail(ex.Message);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            // A dead or hung store is an answer for the operator, not a 500: the library gives up within its timeout.
            Fail($"Not done: {ex.Message}");
        }

        await LoadAsync();
        return Page();
    }

    private void Fail(string message)
    {
        Message = message;
        MessageIsError = true;
    }

    private async Task LoadAsync()
    {
        try
        {
            await LoadCoreAsync();
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            Fail(Message is null ? $"The store is unavailable, so usage, flags and lists cannot be shown: {ex.Message}" : $"{Message} {ex.Message}");
        }
    }

    private async Task LoadCoreAsync()
    {
        CancellationToken ct = HttpContext.RequestAborted;
        List<UsageRow> usage = [];
        List<TenantRow> tenants = [];
        bool globalShown = false;
        foreach (Tenant tenant in database.GetTenants())
        {
            EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = tenant.Id }, ct);
            foreach (EmailSendRuleUsage rule in status.Usage)
            {
                if (rule.Dimension == EmailGuardDimension.Global && !globalShown)
                {
                    usage.Add(new UsageRow("Global", "all mail", Window(rule.Rule), rule.Count, rule.Limit));
                }
                else if (rule.Dimension == EmailGuardDimension.Tenant)
                {
                    usage.Add(new UsageRow("Tenant", $"{tenant.Name} ({tenant.Id})", Window(rule.Rule), rule.Count, rule.Limit));
                }
            }

            globalShown = true;
            tenants.Add(new TenantRow(tenant, status.Flags));
        }

        Usage = usage;
        Tenants = tenants;
        Blocklist = (await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, Take = 100 }, ct)).Items;
        EmailGuardListPage denied = await lists.ListAsync(
            new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.ClientNetwork, Take = 100 }, ct);
        EmailGuardListPage allowed = await lists.ListAsync(
            new EmailGuardListQuery { Kind = EmailGuardListKind.Allowlist, PartyType = EmailGuardPartyType.ClientNetwork, Take = 100 }, ct);
        ClientNetworks = [.. denied.Items, .. allowed.Items];
    }

    private static string Window(RateLimitRule rule)
        => rule.Window == TimeSpan.FromHours(1) ? "per hour"
            : rule.Window == TimeSpan.FromDays(1) ? "per day (UTC)"
            : $"per {rule.Window}";

    public sealed record UsageRow(string Dimension, string Partition, string Window, long Count, long Limit);

    public sealed record TenantRow(Tenant Tenant, IReadOnlyList<EmailGuardFlag> Flags)
    {
        public bool IsSuspended => Flags.Any(f => f.Suspend);
    }
}
