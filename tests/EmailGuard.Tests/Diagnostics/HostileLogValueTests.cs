using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.Tests.Diagnostics;

/// <summary>
/// Tenant, user and category ids, list reasons and the names of who listed or flagged a party reach log lines, and
/// an attacker chooses many of them (a signup form, a tenant header the app passes on, a dashboard note). With a
/// plain-text sink, "x\r\nwarn: EmailGuard[2001] ..." used to forge a second line, an ESC repainted the terminal, and a
/// 20,000-char note made a 20 KB line. Every such value is now escaped and bounded in the line, and only there.
/// </summary>
public sealed class HostileLogValueTests
{
    private const string Forged = "t\r\nwarn: EmailGuard[2001] Store unavailable\u001B[2J\u2028\u202Eevil";

    [Fact]
    public async Task Check_HostileTenantUserAndBlocklistReason_LogNoLineBreakOrEscape()
    {
        FakeLogCollector logs = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Tenant.Add(RateLimitRule.PerHour(10)), logs: logs);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com", "spam\r\nwarn: forged@x.com", addedBy: Forged);

        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = ["victim@example.com"], TenantId = Forged, UserId = Forged });

        decision.Reason.Should().Be(EmailSendReason.Blocklisted);
        decision.Detail.Should().Contain("spam\r\nwarn: forged@x.com", "only log lines are escaped, never the decision");
        IReadOnlyList<FakeLogRecord> records = logs.GetSnapshot();
        records.Select(r => r.Id.Id).Should().Contain([430, 401]);
        AssertClean(records);
        records.Single(r => r.Id.Id == 401).Message.Should().Contain(@"spam\u000D\u000Awarn: forged@x.com").And.Contain(@"t\u000D\u000Awarn");
    }

    [Fact]
    public async Task Flag_NoteOf20000Chars_LogsAtMostTheBoundAndTheMarker()
    {
        FakeLogCollector logs = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(logs: logs);
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        string huge = new('x', 20_000);

        await flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.Manual, flaggedBy: huge);
        await flags.ClearAsync(EmailGuardPartyType.User, "u1", clearedBy: huge, comment: huge);
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.User, "u2", huge, addedBy: huge);

        IReadOnlyList<FakeLogRecord> records = logs.GetSnapshot();
        records.Select(r => r.Id.Id).Should().Equal(441, 442, 430);
        foreach (FakeLogRecord record in records)
        {
            // Each line carries at most two such values, plus its own sentence.
            record.Message.Length.Should().BeLessThan(2 * (LogValue.MaxLength + 30) + 200, $"event {record.Id} carries at most two bounded values");
            record.Message.Should().Contain("...[truncated, 20000 chars]");
        }
    }

    [Fact]
    public async Task Check_TenantLimitProviderThrowsQuotingTheTenant_LoggedExceptionPrintsNoForgedLine()
    {
        // Arrange: the app's provider quotes the id it could not find, as database code does; the id is the attacker's.
        FakeLogCollector logs = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Tenant.Add(RateLimitRule.PerHour(10)),
            more: s => s.AddSingleton<ITenantLimitProvider>(new CountingTenantLimitProvider(id => throw new InvalidOperationException($"No limits row for tenant '{id}'."))),
            logs: logs);

        // Act
        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = Forged });

        // Assert
        decision.IsAllowed.Should().BeTrue("the default tenant rules apply while the provider fails");
        FakeLogRecord failure = logs.GetSnapshot().Single(r => r.Exception is not null);
        failure.Exception!.Message.Should().Contain(@"t\u000D\u000Awarn: EmailGuard[2001]");
        AssertPrintedClean([failure]);
    }

    [Fact]
    public async Task EmailSendDeniedException_HostileInvalidAddress_MessageKeepsToOneLine()
    {
        // Arrange: the guarded sender throws this to the app, which logs it as it logs any failure.
        await using ServiceProvider sp = SendGuardTestServices.Build();
        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [Forged] });

        // Act
        EmailSendDeniedException exception = new(decision);

        // Assert
        decision.Reason.Should().Be(EmailSendReason.InvalidAddress);
        decision.InvalidAddress.Should().Be(Forged, "only the message is escaped, never the decision");
        exception.ToString().Should().Contain(@"t\u000D\u000Awarn").And.NotContainAny(["\r", "\n", "\u001B", "\u2028", "\u202E"]);
    }

    [Fact]
    public async Task ListAdd_HostileInvalidAddress_ArgumentExceptionKeepsToOneLine()
    {
        // Arrange: an admin screen or an import passes on what someone typed; the app logs the refusal.
        await using ServiceProvider sp = SendGuardTestServices.Build();
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();

        // Act
        Func<Task> add = () => lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, Forged, "spam").AsTask();

        // Assert
        ArgumentException refused = (await add.Should().ThrowAsync<ArgumentException>()).Which;
        refused.ToString().Should().Contain(@"t\u000D\u000Awarn").And.NotContainAny(["\r", "\u001B", "\u2028", "\u202E"]);
    }

    /// <summary>
    /// Each record as a plain-text console sink prints it: the message, then the exception's <see cref="Exception.ToString"/>.
    /// A stack trace has lines of its own, so what counts is that no line the input made is there.
    /// </summary>
    internal static void AssertPrintedClean(IEnumerable<FakeLogRecord> records)
    {
        foreach (FakeLogRecord record in records)
        {
            string printed = record.Exception is null ? record.Message : record.Message + Environment.NewLine + record.Exception;
            printed.Should().NotContainAny(["\r", "\u001B", "\u0085", "\u2028", "\u202E"], because: $"event {record.Id} must print no line the input made");
            printed.Split('\n').Should().NotContain(line => line.StartsWith("warn:", StringComparison.Ordinal), $"event {record.Id} must forge no line");
        }
    }

    internal static void AssertClean(IEnumerable<FakeLogRecord> records)
    {
        foreach (FakeLogRecord record in records)
        {
            record.Message.Should().NotContainAny(["\r", "\n", "\u001B", "\u2028", "\u202E"], because: $"event {record.Id} must stay one line");
        }
    }
}
