using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// The overview's provider budget (<see cref="IEmailSendGuard.GetProviderBudgetAsync"/>): each global rule's window,
/// and while the fair share applies, each active tenant's weight, share and use. Every value is escaped.
/// </summary>
internal static class ProviderBudgetSection
{
    public static async Task<bool> WriteAsync(DashboardRequest request, Html html)
    {
        if (request.Services.GetService<IEmailSendGuard>() is not { } guard)
        {
            return true;
        }

        EmailProviderBudget budget = await guard.GetProviderBudgetAsync(request.Context.RequestAborted).ConfigureAwait(false);
        if (budget.Rules.Count == 0 && budget.IsStoreAvailable)
        {
            return true;
        }

        html.Raw("<h2>Provider budget</h2>");
        if (!budget.IsStoreAvailable)
        {
            html.StoreUnavailable("The provider budget is unavailable: ", "the rate-limit store did not answer.");
            return false;
        }

        html.Raw("<table id=\"provider-budget\"><tr><th>Global rule</th><th>Used</th><th>Limit</th><th>Remaining</th><th>Resets</th><th>Fair share</th></tr>");
        foreach (EmailProviderBudgetRule rule in budget.Rules)
        {
            html.Raw("<tr class=\"provider-rule\"").Attr("data-shape", rule.Rule.ShapeId).Attr("data-contended", rule.IsContended ? "true" : "false").Raw(">")
                .Cell(rule.Rule.ToString()).Cell(rule.Used).Cell(rule.Limit).Cell(rule.Remaining).Raw("<td>").Time(rule.ResetAt).Raw("</td>")
                .Cell(!rule.IsShared ? (rule.Rule.Algorithm == RateLimitAlgorithm.TokenBucket ? "not shared (a rate)" : "not shared (fair share off)")
                    : string.Create(CultureInfo.InvariantCulture, $"{(rule.IsContended ? "contended" : "first come")} (from {rule.ContentionThreshold}), {rule.ActiveTenantCount} active tenants, weight {rule.ActiveWeight:0.###}"))
                .Raw("</tr>");
        }

        html.Raw("</table>");
        foreach (EmailProviderBudgetRule rule in budget.Rules.Where(r => r.IsShared && r.Tenants.Count > 0))
        {
            html.Raw("<table class=\"tenant-shares\"").Attr("data-shape", rule.Rule.ShapeId).Raw("><tr><th>Tenant</th><th>Weight</th><th>Share</th><th>Used of its share</th></tr>");
            foreach (EmailTenantShare share in rule.Tenants)
            {
                html.Raw("<tr class=\"tenant-share\"").Attr("data-tenant", share.TenantId).Raw(">").Cell(share.TenantId)
                    .Cell(share.Weight.ToString("0.###", CultureInfo.InvariantCulture) + (share.HasDefaultWeight ? " (default)" : string.Empty))
                    .Cell(share.Share).Cell(share.Used).Raw("</tr>");
            }

            html.Raw("</table>");
            if (rule.Tenants.Count < rule.ActiveTenantCount)
            {
                html.Raw("<p class=\"muted\">").Text(rule.ActiveTenantCount - rule.Tenants.Count).Raw(" more active tenants are not listed.</p>");
            }
        }

        return true;
    }
}
