using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// The flags page's lookup of a tenant or a user by id (<c>/flags?type=Tenant&amp;id=acme</c>), where the overview's
/// rows of that party link: its usage (a tenant's own caps and its pool's), its flags, and its feedback ratios with
/// where its ratio breaker stands (<see cref="IEmailSendGuard.GetStatusAsync"/>), for an operator paged because a
/// tenant is burning through the provider's quota. A tenant pool has its own lookup (<see cref="TenantPoolSection"/>).
/// </summary>
internal static class PartySection
{
    public static async Task WriteAsync(DashboardRequest request, Html html, EmailGuardPartyType type, string id)
    {
        if (request.Services.GetService<IEmailSendGuard>() is not { } guard)
        {
            html.Raw("<h2>").Text(type.ToString()).Raw(" <span id=\"party-name\">").Text(id).Raw("</span></h2>");
            html.Raw("<p class=\"muted\">The send guard is not registered (<code>AddSendGuard()</code>).</p>");
            return;
        }

        EmailGuardDimension dimension = type == EmailGuardPartyType.Tenant ? EmailGuardDimension.Tenant : EmailGuardDimension.User;
        EmailGuardStatus status;
        try
        {
            status = await guard.GetStatusAsync(
                type == EmailGuardPartyType.Tenant ? new EmailGuardStatusQuery { TenantId = id } : new EmailGuardStatusQuery { UserId = id },
                request.Context.RequestAborted).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            html.StoreUnavailable(null, ex.Message);
            return;
        }

        if (status.InvalidParty != EmailGuardDimension.None)
        {
            // Too long for any check to count (InvalidParty): nothing was read for it, and it is not echoed.
            html.Raw("<h2>").Text(type.ToString()).Raw("</h2><p class=\"notice bad\" id=\"party-invalid\">Not an id the send guard counts: longer than a message's attribution can carry, so a check refuses it as <code>InvalidParty</code>.</p>");
            return;
        }

        html.Raw("<h2>").Text(type.ToString()).Raw(" <span id=\"party-name\">").Text(id).Raw("</span></h2>");
        if (!status.IsStoreAvailable)
        {
            html.StoreUnavailable(null, "The store did not answer: the party's usage is unknown.");
        }

        // A tenant's rows are its own caps and its pool's (the pool's name links to the pool's lookup).
        html.Raw("<table id=\"party-usage\"><tr><th>Dimension</th><th>Party</th><th>Rule</th><th>Used</th><th>Limit</th></tr>");
        foreach (EmailSendRuleUsage usage in status.Usage.Where(u => u.Dimension == dimension))
        {
            html.Raw("<tr>").Cell(TenantPoolText.Dimension(usage.Dimension, usage.Partition)).PartyCell(request, usage.Dimension, usage.Partition, "all mail")
                .Cell(OverviewPage.Describe(usage.Rule)).Cell(usage.Count).Cell(usage.Limit).Raw("</tr>");
        }

        html.Raw("</table><table id=\"party-flags\"><tr><th>Party</th><th>Flag</th><th>Effect</th><th>Until</th><th>By</th></tr>");
        foreach (EmailGuardFlag flag in status.Flags)
        {
            html.Raw("<tr>").FlagPartyCell(request, flag).FlagCells(flag).Raw("</tr>");
        }

        html.Raw("</table>");
        if (status.Flags.Count == 0)
        {
            html.Raw("<p class=\"muted\" id=\"party-no-flags\">No active flags: the full limits apply.</p>");
        }

        html.Raw("<table id=\"party-ratios\"><tr><th>Party</th><th>Sends</th><th>Bounces</th><th>Complaints</th><th>Bounce rate</th><th>Complaint rate</th><th>Breaker</th></tr>");
        foreach (EmailPartyRatioStatus ratio in status.Ratios.Where(r => r.Counts.Dimension == dimension))
        {
            html.Raw("<tr>").PartyCell(request, ratio.Counts.Dimension, ratio.Counts.Partition, "all mail").RatioCells(ratio).Raw("</tr>");
        }

        html.Raw("</table>");
        if (status.Ratios.Count == 0)
        {
            html.Raw("<p class=\"muted\">No ratios: provider feedback is not registered, or its counts could not be read.</p>");
        }
    }

    /// <summary>Writes a flag's reason, effect, end and author, as the lookups show them.</summary>
    public static Html FlagCells(this Html html, EmailGuardFlag flag)
        => html.Cell(flag.Reason).Cell(flag.Suspend ? "suspended" : $"limits × {flag.LimitFactor:0.##}").Raw("<td>").Time(flag.ExpiresAt).Raw("</td>").Cell(flag.CreatedBy);

    /// <summary>Writes a party's feedback counts, its rates and where its ratio breaker stands, as the lookups show them.</summary>
    public static Html RatioCells(this Html html, EmailPartyRatioStatus ratio)
        => html.Cell(ratio.Counts.Sends).Cell(ratio.Counts.Bounces).Cell(ratio.Counts.Complaints)
            .Cell(Percent(ratio.Counts.BounceRate)).Cell(Percent(ratio.Counts.ComplaintRate))
            .Cell(ratio.BreakerState == EmailRatioBreakerState.Closed ? "closed" : $"{ratio.BreakerState} ({ratio.BreakerAction}, {ratio.BreakerReason}) until {ratio.BreakerUntil:u}");

    private static string Percent(double ratio) => ratio.ToString("0.###%", CultureInfo.InvariantCulture);
}
