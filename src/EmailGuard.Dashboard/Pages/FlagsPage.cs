using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>Active flags and suspensions, with apply and clear; a party can be looked up by id, a tenant pool with its usage and ratios.</summary>
internal static class FlagsPage
{
    /// <summary>The most parties whose active flags the page reads from the store.</summary>
    private const int MaxParties = 100;

    public static async Task RenderAsync(DashboardRequest request)
    {
        IEmailGuardFlags? flags = request.Services.GetService<IEmailGuardFlags>();
        Html html = new();
        if (flags is null)
        {
            html.Raw("<p class=\"muted\">Flags are not registered (<code>AddSendGuard()</code>).</p>");
            await DashboardLayout.WriteAsync(request, "/flags", "Flags and suspensions", html).ConfigureAwait(false);
            return;
        }

        CancellationToken ct = request.Context.RequestAborted;
        TimeProvider time = request.Services.GetService<TimeProvider>() ?? TimeProvider.System;
        DateTimeOffset now = time.GetUtcNow();
        try
        {
            // Active flags are found through the recorded events: every flag set within the longest duration still runs.
            IReadOnlyList<EmailGuardFlagEvent> events = await flags.GetEventsAsync(new EmailGuardFlagEventQuery { Take = 1_000 }, ct).ConfigureAwait(false);
            List<(EmailGuardPartyType, string)> parties = [.. events
                .Where(e => e.Kind != EmailGuardFlagEventKind.Cleared && e.ExpiresAt > now)
                .Select(e => (e.PartyType, e.PartyId))
                .Distinct()
                .Take(MaxParties)];
            // A blank id names no party (the flags refuse one), so it looks nothing up rather than failing the page. A
            // pool is named as its flags name it, trimmed and in lower case, and shows its usage and ratios first.
            string lookupId = request.Query("id");
            if (!string.IsNullOrWhiteSpace(lookupId) && FormEnum.TryParse(request.Query("type"), out EmailGuardPartyType lookupType))
            {
                if (lookupType == EmailGuardPartyType.TenantPool)
                {
                    await TenantPoolSection.WriteAsync(request, html, lookupId).ConfigureAwait(false);
                    lookupId = TenantPoolSection.Normalize(lookupId) ?? string.Empty;
                }
                else if (lookupType is EmailGuardPartyType.Tenant or EmailGuardPartyType.User)
                {
                    await PartySection.WriteAsync(request, html, lookupType, lookupId).ConfigureAwait(false);
                }

                if (lookupId.Length > 0 && lookupType is EmailGuardPartyType.User or EmailGuardPartyType.Tenant or EmailGuardPartyType.TenantPool)
                {
                    parties.Remove((lookupType, lookupId));
                    parties.Insert(0, (lookupType, lookupId));
                }
            }

            html.Raw("<table id=\"active-flags\"><tr><th>Party</th><th>Id</th><th>Reason</th><th>Effect</th><th>Since</th><th>Until</th><th>By</th><th></th></tr>");
            int shown = 0;
            foreach ((EmailGuardPartyType type, string id) in parties)
            {
                foreach (EmailGuardFlag flag in await flags.GetActiveFlagsAsync(type, id, ct).ConfigureAwait(false))
                {
                    shown++;
                    html.Raw("<tr class=\"flag\">").Cell(flag.PartyType.ToString());
                    html.FlagPartyCell(request, flag).Cell(flag.Reason)
                        .Cell(flag.Suspend ? "suspended" : $"limits × {flag.LimitFactor:0.##}").Raw("<td>").Time(flag.CreatedAt).Raw("</td><td>").Time(flag.ExpiresAt).Raw("</td>").Cell(flag.CreatedBy).Raw("<td>");
                    if (request.CanAct)
                    {
                        request.Form(html, "/flags/clear", "inline").Hidden("type", flag.PartyType.ToString()).Carry("id", flag.PartyId).Carry("reason", flag.Reason)
                            .Raw("<button type=\"submit\" class=\"danger\">Clear</button></form>");
                    }

                    html.Raw("</td></tr>");
                }
            }

            html.Raw("</table>");
            if (shown == 0)
            {
                html.Raw("<p class=\"muted\" id=\"no-flags\">No active flags.</p>");
            }
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            html.StoreUnavailable(null, ex.Message);
        }

        html.Raw("<h2>Look up a party</h2><form method=\"get\" id=\"flag-lookup\"").Attr("action", request.Url("/flags")).Raw(">");
        PartySelect(html, pools: true);
        html.Raw(" <label>Id <input name=\"id\" required maxlength=\"200\"></label> <button type=\"submit\">Look up</button></form>");

        if (!request.CanAct)
        {
            html.Raw("<p class=\"muted\" id=\"read-only\">Read-only: flagging, suspending and clearing need the dashboard's actions policy.</p>");
            await DashboardLayout.WriteAsync(request, "/flags", "Flags and suspensions", html).ConfigureAwait(false);
            return;
        }

        html.Raw("<h2>Flag or suspend</h2>");
        request.Form(html, "/flags/apply").Raw("<div class=\"card\" id=\"flag-apply\">");
        PartySelect(html);
        html.Raw(" <label>Id <input name=\"id\" required maxlength=\"200\"></label> <label>Reason <select name=\"reason\">");
        SendGuardOptions? options = request.Services.GetService<IOptions<SendGuardOptions>>()?.Value;
        foreach (KeyValuePair<string, FlagPolicy> policy in options?.FlagPolicies ?? new Dictionary<string, FlagPolicy>())
        {
            html.Raw("<option").Attr("value", policy.Key).Raw(">").Text(policy.Key).Text(policy.Value.Suspend ? " (suspends)" : $" (limits × {policy.Value.LimitFactor:0.##})").Raw("</option>");
        }

        html.Raw("</select></label> <label>Hours (empty: the reason's duration) <input name=\"hours\" type=\"number\" min=\"1\" max=\"8760\"></label> <button type=\"submit\">Apply</button></div></form>");

        // Only where the app looks tenants' limits up: without a provider every tenant has the same rules.
        if (request.Services.GetService<ITenantLimitProvider>() is not null)
        {
            html.Raw("<h2>Apply a tenant's new limits now</h2>");
            request.Form(html, "/tenants/limits/reload").Raw("<div class=\"card\" id=\"tenant-limits-reload\">")
                .Raw("<label>Tenant id <input name=\"id\" maxlength=\"200\"></label> <label><input type=\"checkbox\" name=\"all\" value=\"yes\"> every tenant</label> ")
                .Raw("<button type=\"submit\">Look up again</button><p class=\"muted\">After you change a tenant's plan in your database: every instance asks your tenant limit provider again at the tenant's next check, within the state refresh interval, instead of when its cached answer expires.</p></div></form>");
        }
        await DashboardLayout.WriteAsync(request, "/flags", "Flags and suspensions", html).ConfigureAwait(false);
    }

    /// <summary>The party types to choose from: tenant and user, and for a lookup a tenant pool (a pool is flagged by its breaker, not here).</summary>
    private static void PartySelect(Html html, bool pools = false)
        => html.Raw("<label>Party <select name=\"type\"><option value=\"Tenant\">Tenant</option><option value=\"User\">User</option>")
            .Raw(pools ? "<option value=\"TenantPool\">Tenant pool</option>" : string.Empty).Raw("</select></label>");
}
