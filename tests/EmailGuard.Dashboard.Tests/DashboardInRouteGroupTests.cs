using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The dashboard mapped inside a route group of the app (<c>app.MapGroup("/admin").MapEmailGuardDashboard("/emailguard")</c>,
/// an admin area with its own conventions): its links, forms and redirects point under the group, where it is served,
/// not at <c>/emailguard</c>, where nothing is.
/// </summary>
public sealed partial class DashboardInRouteGroupTests
{
    [Fact]
    public async Task Pages_LinkFormsAndRedirects_PointUnderTheGroup()
    {
        // Arrange
        await using DashboardHost host = await DashboardHost.StartAsync(group: "/admin");
        IEmailGuardFlags flags = host.Services.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "t-1", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        using HttpClient client = host.Client();

        // Act
        string overview = await client.GetStringAsync("/admin/emailguard");
        string overviewSlash = await client.GetStringAsync("/admin/emailguard/");
        string flagsPage = await client.GetStringAsync("/admin/emailguard/flags");
        string token = DashboardPage.TokenPattern().Match(flagsPage).Groups[1].Value;
        HttpResponseMessage confirm = await client.PostAsync("/admin/emailguard/flags/clear", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", token), new("type", "Tenant"), new("id", "t-1"), new("reason", EmailGuardFlagReasons.Manual)]));
        string confirmPage = await confirm.Content.ReadAsStringAsync();
        HttpResponseMessage cleared = await client.PostAsync("/admin/emailguard/flags/clear", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", DashboardPage.TokenPattern().Match(confirmPage).Groups[1].Value), new("type", "Tenant"), new("id", "t-1"),
             new("reason", EmailGuardFlagReasons.Manual), new("confirmed", "yes")]));

        // Assert
        foreach (string page in new[] { overview, overviewSlash, flagsPage, confirmPage })
        {
            Links().Matches(page).Select(m => m.Groups[1].Value).Where(l => l.StartsWith('/'))
                .Should().NotBeEmpty().And.OnlyContain(l => l.StartsWith("/admin/emailguard", StringComparison.Ordinal));
        }

        flagsPage.Should().Contain("action=\"/admin/emailguard/flags/clear\"");
        confirmPage.Should().Contain("action=\"/admin/emailguard/flags/clear\"");
        cleared.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        cleared.Headers.Location!.OriginalString.Should().StartWith("/admin/emailguard/flags");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "t-1")).Should().BeEmpty();
        (await client.GetAsync(cleared.Headers.Location)).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [GeneratedRegex("(?:href|action)=\"([^\"]*)\"")]
    private static partial Regex Links();
}
