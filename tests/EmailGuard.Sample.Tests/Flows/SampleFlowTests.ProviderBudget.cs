using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>The outbox page shows the provider budget the queue paces to, with each active tenant's share.</summary>
public abstract partial class SampleFlowTests
{
    [Fact]
    public async Task Outbox_AfterTenantsShare_ShowsTheProviderBudgetAndEachTenantsWeightShareAndUse_Escaped()
    {
        // Arrange: acme (business plan, weight 2) and globex (enterprise, 5) share an order; a tenant id written by an
        // attacker reaches the guard through an app's own code.
        using SampleHttpClient admin = new(App.BaseAddress, SampleApp.AdminKey);
        foreach (string tenant in new[] { "acme", "globex" })
        {
            (await admin.GetAsync($"/share?tenant={tenant}")).Dispose();
            using HttpResponseMessage shared = await admin.SubmitAsync(
                "/share", "/share", ("order", $"{tenant.ToUpperInvariant()}-PO-1001"), ("recipient", $"buyer@{tenant}-supplier.example"));
            (await shared.Content.ReadAsStringAsync()).Should().Contain("Queued 1 mail");
        }

        const string Hostile = "<script>alert('budget')</script>";
        (await App.Services.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["x@example.com"], TenantId = Hostile }))
            .IsAllowed.Should().BeTrue();
        await App.MailDrainedAsync();

        // Act
        string page = await admin.GetStringAsync("/outbox");

        // Assert: the hourly budget of 100 (3 sent), shared from 50 by weight 2 + 5 + 1 among three tenants.
        page.Should().Contain("id=\"provider-budget\"");
        page.Should().MatchRegex("<tr class=\"provider-rule\" data-shape=\"f3600000\" data-contended=\"false\">\\s*<td>[^<]*</td>\\s*<td class=\"used\">3 of 100</td>\\s*<td class=\"remaining\">97</td>");
        page.Should().Contain("3 active tenants");
        TenantRow(page, "acme").Should().MatchRegex("<td class=\"weight\">2</td>\\s*<td class=\"share\">12</td>\\s*<td class=\"share-used\">0</td>");
        TenantRow(page, "globex").Should().MatchRegex("<td class=\"weight\">5</td>\\s*<td class=\"share\">31</td>");
        page.Should().NotContain(Hostile, "a tenant id is text, never markup");
        page.Should().Contain(WebUtility.HtmlEncode(Hostile).Replace("&#39;", "&#x27;", StringComparison.Ordinal));
    }

    private static string TenantRow(string page, string tenant)
    {
        int start = page.IndexOf($"<tr class=\"tenant-share\" data-tenant=\"{tenant}\">", StringComparison.Ordinal);
        start.Should().BeGreaterThanOrEqualTo(0, "tenant {0} is listed", tenant);
        return page[start..page.IndexOf("</tr>", start, StringComparison.Ordinal)];
    }
}
