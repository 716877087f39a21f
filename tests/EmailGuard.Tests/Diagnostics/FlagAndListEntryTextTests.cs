namespace EmailGuard.Tests.Diagnostics;

public sealed class FlagAndListEntryTextTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 10, 0, 0, TimeSpan.FromHours(1));

    [Fact]
    public void Flag_ToString_PartyReasonAndExpiry_NotTheTypeName()
    {
        EmailGuardFlag suspended = new() { PartyType = EmailGuardPartyType.Tenant, PartyId = "acme", Reason = "manual", CreatedAt = At, ExpiresAt = At.AddDays(1), Suspend = true };
        EmailGuardFlag reduced = new() { PartyType = EmailGuardPartyType.User, PartyId = "bob", Reason = "high_bounce_rate", CreatedAt = At, ExpiresAt = At.AddHours(24), LimitFactor = 0.1 };

        suspended.ToString().Should().Be("Tenant acme suspended: manual, until 2026-12-03 09:00:00Z");
        reduced.ToString().Should().Be("User bob flagged (limits at 10 percent): high_bounce_rate, until 2026-12-03 09:00:00Z");
    }

    [Fact]
    public void Flag_ToString_HostilePartyIdAndReason_EscapedAsLogValues()
    {
        EmailGuardFlag flag = new() { PartyType = EmailGuardPartyType.User, PartyId = "bob\r\nwarn: EmailGuard[441] forged", Reason = "x\u202Eevil", CreatedAt = At, ExpiresAt = At, Suspend = true };

        string text = flag.ToString();

        text.Should().Be("User bob\\u000D\\u000Awarn: EmailGuard[441] forged suspended: x\\u202Eevil, until 2026-12-02 09:00:00Z");
    }

    [Fact]
    public void ListEntry_ToString_ListPartyReasonAndExpiry_EscapedAsLogValues()
    {
        EmailGuardListEntry blocked = new() { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.Recipient, Value = "spam@example.com", Reason = "spam_trap", CreatedAt = At };
        EmailGuardListEntry allowed = new() { Kind = EmailGuardListKind.Allowlist, PartyType = EmailGuardPartyType.Tenant, Value = "acme\nforged", Reason = "partner", CreatedAt = At, ExpiresAt = At.AddHours(2) };

        blocked.ToString().Should().Be("Blocklist Recipient spam@example.com: spam_trap, no expiry");
        allowed.ToString().Should().Be("Allowlist Tenant acme\\u000Aforged: partner, until 2026-12-02 11:00:00Z");
    }
}
