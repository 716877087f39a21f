using System.Globalization;
using EmailGuard.Tests.Feedback;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.Tests.Diagnostics;

/// <summary>
/// Log lines are read by operators and parsed by tools: they must not change with the server's culture (German dates
/// and decimal commas), and must read as sentences: no "(null)", no "removed: True", no empty "( )".
/// </summary>
public sealed class LogMessageCultureTests
{
    [Fact]
    public async Task Messages_UnderGermanCulture_AreInvariantSentences()
    {
        CultureInfo previous = CultureInfo.CurrentCulture;
        CultureInfo previousUi = CultureInfo.CurrentUICulture;
        CultureInfo.CurrentCulture = CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            FakeLogCollector logs = new();
            await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Tenant.Add(RateLimitRule.PerHour(1)), logs: logs);
            IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
            IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();
            IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();

            await flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.HighBounceRate);
            await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1.5), flaggedBy: "ops");
            await flags.ClearAsync(EmailGuardPartyType.User, "nobody", comment: "nothing to clear");
            await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap@spam.example", "spam_trap", TimeSpan.FromDays(7), "ops");
            await lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.User, "monitor", "uptime_probe");
            await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap@spam.example");
            await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "never@listed.example");
            OutboundEmail anonymous = new() { To = ["a@example.com"], TenantId = "acme" };
            await guard.CheckAsync(anonymous);
            await guard.CheckAsync(anonymous);

            logs.GetSnapshot().Select(r => r.Message).Should().Equal(
                "A User was flagged for high_bounce_rate by an unnamed caller: its limits are reduced to 10 percent until 2026-11-24 10:05:00Z.",
                "A Tenant was suspended for manual by ops until 2026-11-23 11:35:00Z.",
                "An entry was added to the Blocklist for a Recipient for spam_trap by ops; expiry: 2026-11-30 10:05:00Z.",
                "An entry was added to the Allowlist for a User for uptime_probe by an unnamed caller; expiry: never.",
                "An entry for a Recipient was removed from the Blocklist.",
                "No Blocklist entry for a Recipient was found to remove.",
                "Send denied: a Tenant limit is exceeded for tenant acme and user none; retry after 00:55:00.");
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
            CultureInfo.CurrentUICulture = previousUi;
        }
    }

    [Fact]
    public async Task FeedbackMessages_WithoutTenantOrExpiry_ReadAsSentences()
    {
        await using FeedbackTestApp app = new();

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: "gone@example.com"));

        string[] lines = [.. app.Logs.GetSnapshot().Select(r => r.Message)];
        lines.Should().Contain(l => l.StartsWith("Feedback from ses put a Recipient on the blocklist for hard_bounce; expiry: ", StringComparison.Ordinal));
        lines.Should().NotContain(l => l.Contains("(null)", StringComparison.Ordinal) || l.Contains(": True", StringComparison.Ordinal) || l.Contains(": False", StringComparison.Ordinal) || l.Contains("( )", StringComparison.Ordinal));
    }
}
