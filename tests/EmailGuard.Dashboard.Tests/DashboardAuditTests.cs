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

    [Fact]
    public async Task ClearFlag_ByAUserWithAnIdAndNoName_RecordsTheId()
    {
        // Arrange: a sign-in whose identity has no name, only an id (a bearer token's subject, mapped to the name
        // identifier claim): every action was recorded as taken by "dashboard", so a lifted suspension named no one.
        await using DashboardHost host = await DashboardHost.StartAsync();
        IEmailGuardFlags flags = host.Services.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "rogue", EmailGuardFlagReasons.Manual, flaggedBy: "breaker");
        using HttpClient client = host.Client(user: "u-7781");
        client.DefaultRequestHeaders.Add("X-Test-Id-Only", "1");
        string token = DashboardPage.TokenPattern().Match(await client.GetStringAsync("/emailguard/flags")).Groups[1].Value;

        // Act
        HttpResponseMessage cleared = await client.PostAsync("/emailguard/flags/clear", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", token), new("type", "Tenant"), new("id", "rogue"), new("reason", EmailGuardFlagReasons.Manual), new("confirmed", "yes")]));

        // Assert
        cleared.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Should().BeEmpty();
        IReadOnlyList<EmailGuardFlagEvent> events = await flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyType = EmailGuardPartyType.Tenant, PartyId = "rogue" });
        events.Single(e => e.Kind == EmailGuardFlagEventKind.Cleared).CreatedBy.Should().Be("u-7781");
    }
}
