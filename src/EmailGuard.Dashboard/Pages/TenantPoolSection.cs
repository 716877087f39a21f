using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// The flags page's lookup of a tenant pool by name (<c>/flags?type=TenantPool&amp;id=trial</c>): the pool's own usage,
/// flags and ratios (<see cref="EmailGuardStatusQuery.TenantPool"/>), with no tenant, for an operator paged because a
/// pool is over its cap.
/// </summary>
internal static class TenantPoolSection
{
    /// <summary>The longest pool name the send guard's options accept; a longer one names no pool, and is not echoed.</summary>
    public const int MaxNameLength = 256;

    /// <summary>The pool as its flags and counters name it: trimmed, in lower case; null when it can name no pool.</summary>
    public static string? Normalize(string name) => name.Trim() is { Length: > 0 and <= MaxNameLength } trimmed ? trimmed.ToLowerInvariant() : null;

    public static async Task WriteAsync(DashboardRequest request, Html html, string lookedUp)
    {
        if (Normalize(lookedUp) is not { } name)
        {
            html.Raw("<p class=\"notice bad\" id=\"pool-unknown\">Not a tenant pool's name: empty, or longer than ").Text(MaxNameLength).Raw(" characters.</p>");
            return;
        }

        html.Raw("<h2>Tenant pool <span id=\"pool-name\">").Text(name).Raw("</span></h2>");
        if (request.Services.GetService<IEmailSendGuard>() is not { } guard)
        {
            html.Raw("<p class=\"muted\">The send guard is not registered (<code>AddSendGuard()</code>).</p>");
            return;
        }

        EmailGuardStatus status;
        try
        {
            status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantPool = name }, request.Context.RequestAborted).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            html.StoreUnavailable(null, ex.Message);
            return;
        }

        if (status.UnknownTenantPool is not null)
        {
            html.Raw("<p class=\"notice bad\" id=\"pool-unknown\">No tenant pool of this name has rules in <code>EmailGuard:SendGuard:TenantPools</code>, so it caps no tenant (a tenant limit provider that names it is logged as event 3073).</p>");
            return;
        }

        if (!status.IsStoreAvailable)
        {
            html.StoreUnavailable(null, "The store did not answer: the pool's usage is unknown.");
        }

        html.Raw("<table id=\"pool-usage\"><tr><th>Rule</th><th>Used</th><th>Limit</th></tr>");
        foreach (EmailSendRuleUsage usage in status.Usage.Where(u => TenantPoolText.IsPool(u.Dimension, u.Partition)))
        {
            html.Raw("<tr>").Cell(OverviewPage.Describe(usage.Rule)).Cell(usage.Count).Cell(usage.Limit).Raw("</tr>");
        }

        html.Raw("</table><table id=\"pool-flags\"><tr><th>Flag</th><th>Effect</th><th>Until</th><th>By</th></tr>");
        foreach (EmailGuardFlag flag in status.Flags)
        {
            html.Raw("<tr>").FlagCells(flag).Raw("</tr>");
        }

        html.Raw("</table>");
        if (status.Flags.Count == 0)
        {
            html.Raw("<p class=\"muted\" id=\"pool-no-flags\">No active flags: the pool's full limits apply.</p>");
        }

        // The global counts come first; the pool's are the only others this query reads.
        html.Raw("<table id=\"pool-ratios\"><tr><th>Sends</th><th>Bounces</th><th>Complaints</th><th>Bounce rate</th><th>Complaint rate</th><th>Breaker</th></tr>");
        foreach (EmailPartyRatioStatus ratio in status.Ratios.Where(r => TenantPoolText.IsPool(r.Counts.Dimension, r.Counts.Partition)))
        {
            html.Raw("<tr>").RatioCells(ratio).Raw("</tr>");
        }

        html.Raw("</table>");
        if (status.Ratios.Count == 0)
        {
            html.Raw("<p class=\"muted\">No ratios: provider feedback is not registered, or its counts could not be read.</p>");
        }
    }
}
