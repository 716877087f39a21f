using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard.Tests;

/// <summary>Who lifted a control from the dashboard can be told afterwards.</summary>
public sealed class DashboardAuditTests
{
    [Fact]
    public async Task RemoveFromList_LogsTheOperatorWhoRemovedIt()
    {
        // Arrange: adding an entry records who added it (on the entry, and in log 430) and clearing a flag who cleared it
        // (its event, log 442); removing a blocklist entry, which lets a blocked tenant send again, left no trace of who
        // did it: the entry is gone, and the lists' log 431 names no one.
        CapturingLoggerProvider logs = new();
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        IEmailGuardLists lists = host.Services.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, "rogue", "abuse", addedBy: "breaker");
        using HttpClient client = host.Client(user: "mallory-ops");
        string token = DashboardPage.TokenPattern().Match(await client.GetStringAsync("/emailguard/lists")).Groups[1].Value;

        // Act
        HttpResponseMessage removed = await client.PostAsync("/emailguard/lists/remove", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", token), new("kind", "Blocklist"), new("type", "Tenant"), new("value", "rogue"), new("confirmed", "yes")]));

        // Assert
        removed.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, "rogue")).Should().BeNull();
        logs.Messages.Should().ContainSingle(m => m.Contains("mallory-ops", StringComparison.Ordinal))
            .Which.Should().Contain("removed").And.Contain("Tenant").And.Contain("Blocklist");
    }
}
