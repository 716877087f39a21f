using System.Globalization;
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
            await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap@spam.example", "spam_trap", "ops", TimeSpan.FromDays(7));
            await lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.User, "monitor", "uptime_probe");
            await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap@spam.example");
            await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "never@listed.example");
            OutboundEmail anonymous = new() { To = ["a@example.com"], TenantId = "acme" };
            await guard.CheckAsync(anonymous);
            await guard.CheckAsync(anonymous);

            logs.GetSnapshot().Select(r => r.Message).Should().Equal(
                "A User was flagged for high_bounce_rate by an unnamed caller: its limits are reduced to 10 percent until 2026-11-24 10:05:00Z.",
                "A Tenant was suspended for manual by ops until 2026-11-23 11:35:00Z.",
                "A Blocklist entry was added for a Recipient for spam_trap by ops; expiry: 2026-11-30 10:05:00Z.",
                "A Allowlist entry was added for a User for uptime_probe by an unnamed caller; expiry: never.",
                "A Blocklist entry for a Recipient was removed.",
                "No Blocklist entry for a Recipient was found to remove.",
                "Send denied: a Tenant limit is exceeded for tenant acme and user none; retry after 00:55:00.");
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
            CultureInfo.CurrentUICulture = previousUi;
        }
    }
}
