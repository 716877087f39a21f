using System.Globalization;
using System.Net;
using EmailGuard;
using FluentAssertions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// No configuration the startup validation accepts, and no message, makes <c>CheckAsync</c> throw: the largest
/// message the options allow is decided and counted on every counter, and anything larger or malformed is a clear
/// denial. Run once per store, because each store has its own path for a call of thousands of counters.
/// </summary>
public abstract class SendGuardSizeTests
{
    /// <summary>Recipients x (2 recipient rules + 1 domain rule) + 4 message-wide rules = exactly one store call's bound.</summary>
    protected const int MaxRecipients = (RateLimitValidation.MaxRequestsPerCall - 4) / 3;

    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    /// <summary>Creates a fresh, empty rate-limit store that reads <paramref name="time"/>.</summary>
    protected abstract IRateLimitStore CreateStore(FakeTimeProvider time);

    private static void AtTheBound(SendGuardOptions o)
    {
        o.Global.Add(RateLimitRule.PerHour(1_000_000));
        o.Tenant.Add(RateLimitRule.PerHour(1_000_000));
        o.Sender.Add(RateLimitRule.PerHour(1_000_000));
        o.User.Add(RateLimitRule.PerHour(1_000_000));
        o.Recipient.Add(RateLimitRule.PerHour(1)).Add(RateLimitRule.PerDay(2));
        o.RecipientDomain.Add(RateLimitRule.PerHour(10));
        o.MaxRecipientsPerMessage = MaxRecipients;
    }

    private SendGuardHarness Create(Action<SendGuardOptions> configure, ITenantLimitProvider? tenantLimits = null)
    {
        // FailClosed and a long timeout: a store that cannot take the call must show as a denial, not pass unnoticed.
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero, FailureMode = StoreFailureMode.FailClosed };
        configure(options);
        FakeTimeProvider time = new(Start);
        return new SendGuardHarness(time, CreateStore(time), new InMemoryEmailGuardStateStore(time), options, tenantLimits,
            new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(30) });
    }

    private static OutboundEmail Message(int recipients, string tenant = "acme")
        => new()
        {
            To = [.. Enumerable.Range(0, recipients).Select(i => string.Create(CultureInfo.InvariantCulture, $"user{i}@domain{i}.example"))],
            Sender = "news@app.example",
            TenantId = tenant,
            UserId = "u-1",
        };

    [Fact]
    public void Options_AtTheStoreBound_PassStartupValidation()
    {
        SendGuardOptions options = new();
        AtTheBound(options);

        new SendGuardCapacityValidator().Validate(null, options).Succeeded.Should().BeTrue();
        options.MaxRecipientsPerMessage++;
        new SendGuardCapacityValidator().Validate(null, options).Failed.Should().BeTrue("one recipient more needs 4,099 counters");
    }

    [Fact]
    public async Task LargestMessageTheOptionsAllow_IsDecidedAndCountedOnEveryCounter()
    {
        SendGuardHarness h = Create(AtTheBound);
        OutboundEmail largest = Message(MaxRecipients);

        EmailSendDecision first = await h.Guard.CheckAsync(largest);
        EmailSendDecision again = await h.Guard.CheckAsync(largest);

        first.Reason.Should().Be(EmailSendReason.Allowed);
        first.Usage.Length.Should().Be(RateLimitValidation.MaxRequestsPerCall);
        first.GetRemaining(EmailGuardDimension.Global).Should().Be(1_000_000 - MaxRecipients);
        again.Reason.Should().Be(EmailSendReason.LimitExceeded, "every recipient's hourly limit of 1 is used");
        again.Dimension.Should().Be(EmailGuardDimension.Recipient);
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(MaxRecipients, "the denial took nothing");
    }

    [Fact]
    public async Task LargestMessage_Peeked_IsDecidedWithoutCounting()
    {
        SendGuardHarness h = Create(AtTheBound);

        EmailSendDecision peek = await h.Guard.PeekAsync(Message(MaxRecipients));

        peek.Reason.Should().Be(EmailSendReason.Allowed);
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(0);
    }

    [Fact]
    public async Task OneRecipientMoreThanAllowed_IsTooManyRecipients()
    {
        SendGuardHarness h = Create(AtTheBound);

        EmailSendDecision decision = await h.Guard.CheckAsync(Message(MaxRecipients + 1));

        decision.Reason.Should().Be(EmailSendReason.TooManyRecipients);
        decision.Detail.Should().Contain($"at most {MaxRecipients} are allowed");
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(0);
    }

    [Fact]
    public async Task TenantRulesFromTheProviderBeyondTheBound_AreATooManyRecipientsDenialNotAnException()
    {
        // Three tenant rules where the configuration had one: the largest message now needs 4,098 counters.
        CountingTenantLimitProvider provider = new(_ => new TenantLimits
        {
            Rules = [RateLimitRule.PerMinute(1_000_000), RateLimitRule.PerHour(1_000_000), RateLimitRule.PerDay(1_000_000)],
        });
        SendGuardHarness h = Create(AtTheBound, provider);

        EmailSendDecision largest = await h.Guard.CheckAsync(Message(MaxRecipients));
        EmailSendDecision smaller = await h.Guard.CheckAsync(Message(MaxRecipients - 1));

        largest.Reason.Should().Be(EmailSendReason.TooManyRecipients);
        largest.Detail.Should().Contain($"at most {MaxRecipients - 1} fit one check");
        smaller.Reason.Should().Be(EmailSendReason.Allowed);
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(MaxRecipients - 1, "the denied message took nothing");
    }

    public static TheoryData<string, EmailSendReason> HostileMessages => new()
    {
        { "null recipient", EmailSendReason.InvalidAddress },
        { "empty recipient", EmailSendReason.InvalidAddress },
        { "white-space recipient", EmailSendReason.InvalidAddress },
        { "recipient of 100,000 characters", EmailSendReason.InvalidAddress },
        { "recipient with control characters", EmailSendReason.InvalidAddress },
        { "null To with Bcc", EmailSendReason.Allowed },
        { "null lists", EmailSendReason.NoRecipients },
        { "empty sender", EmailSendReason.InvalidAddress },
        { "empty tenant, user and category", EmailSendReason.InvalidParty },
        { "ids of 100,000 characters", EmailSendReason.InvalidParty },
        { "ids of 192 characters, hashed into keys", EmailSendReason.Allowed },
        { "ids with control characters and colons", EmailSendReason.Allowed },
        { "IPv4-mapped IPv6 client", EmailSendReason.Allowed },
        { "unspecified IPv6 client", EmailSendReason.Allowed },
        { "one address repeated 4 x max times", EmailSendReason.Allowed },
        { "4 x max + 1 addresses", EmailSendReason.TooManyRecipients },
        { "max distinct addresses at one domain", EmailSendReason.LimitExceeded },
    };

    [Theory]
    [MemberData(nameof(HostileMessages))]
    public async Task HostileMessage_IsDecidedNeverThrown(string name, EmailSendReason expected)
    {
        SendGuardHarness h = Create(o =>
        {
            AtTheBound(o);
            o.ClientIp.Add(RateLimitRule.PerHour(1_000_000));
            o.Category.Add(RateLimitRule.PerHour(1_000_000));
            o.User.Clear();
            o.Tenant.Clear();
            o.CountEachRecipientAgainstDomain = true;
        });
        string huge = new('x', 100_000);
        OutboundEmail message = name switch
        {
            "null recipient" => new() { To = ["a@example.com", null!] },
            "empty recipient" => new() { To = [""] },
            "white-space recipient" => new() { To = ["  \t "] },
            "recipient of 100,000 characters" => new() { To = [huge + "@example.com"] },
            "recipient with control characters" => new() { To = ["a\r\nBcc: victim@example.com@example.com"] },
            "null To with Bcc" => new() { To = null!, Cc = null!, Bcc = ["a@example.com"] },
            "null lists" => new() { To = null!, Cc = null!, Bcc = null! },
            "empty sender" => new() { To = ["a@example.com"], Sender = "" },
            "empty tenant, user and category" => new() { To = ["a@example.com"], TenantId = "", UserId = " ", Category = "" },
            "ids of 100,000 characters" => new() { To = ["a@example.com"], TenantId = huge, UserId = huge, Category = huge },
            "ids of 192 characters, hashed into keys" => new() { To = ["a@example.com"], TenantId = huge[..192], UserId = huge[..192], Category = huge[..192] },
            "ids with control characters and colons" => new() { To = ["a@example.com"], TenantId = "t:\0\r\n", UserId = "send:g", Category = "{signup}" },
            "IPv4-mapped IPv6 client" => new() { To = ["a@example.com"], ClientIp = IPAddress.Parse("::ffff:203.0.113.9") },
            "unspecified IPv6 client" => new() { To = ["a@example.com"], ClientIp = IPAddress.IPv6Any },
            "one address repeated 4 x max times" => new() { To = [.. Enumerable.Repeat("a@example.com", 4 * MaxRecipients)] },
            "4 x max + 1 addresses" => new() { To = [.. Enumerable.Repeat("a@example.com", (4 * MaxRecipients) + 1)] },
            "max distinct addresses at one domain" => new() { To = [.. Enumerable.Range(0, MaxRecipients).Select(i => string.Create(CultureInfo.InvariantCulture, $"u{i}@one.example"))] },
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };

        EmailSendDecision decision = await h.Guard.CheckAsync(message);

        decision.Reason.Should().Be(expected, decision.Detail);
        if (decision.Reason == EmailSendReason.LimitExceeded)
        {
            decision.Dimension.Should().Be(EmailGuardDimension.RecipientDomain, "a limit denial names the dimension");
        }
        else if (!decision.IsAllowed)
        {
            decision.Detail.Should().NotBeNullOrWhiteSpace("a denial says why");
        }
    }
}
