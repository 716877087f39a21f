using EmailGuard;
using EmailGuard.Testing.Guard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Status;

/// <summary>
/// A tenant pool's own status, on every store: <see cref="EmailGuardStatusQuery.TenantPool"/> reports the pool's usage
/// (each rule, as the check counts it), its flags and its ratios with no tenant; an unknown name is said so, not
/// thrown; queried with a tenant, each pool shows once.
/// </summary>
public abstract class TenantPoolStatusScenarioTests
{
    /// <summary>A Monday, 10:05 UTC.</summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    /// <summary>The clock the instance reads.</summary>
    protected FakeTimeProvider Time { get; } = new(Start);

    /// <summary>
    /// Builds the app instance over the store under test: <paramref name="configure"/> on its services (the clock, the
    /// tenant limit provider), then <c>AddEmailGuard()</c>, the store, and <c>AddSendGuard(guard)</c>.
    /// </summary>
    /// <param name="configure">The services.</param>
    /// <param name="guard">The send guard's options.</param>
    /// <returns>The instance's services.</returns>
    protected abstract IServiceProvider CreateInstance(Action<IServiceCollection> configure, Action<SendGuardOptions> guard);

    [Fact]
    public async Task Status_TenantPoolByItself_ReportsItsRulesUsageFlagsAndRatios_WithNoTenant()
    {
        // Arrange: two trial tenants send 5 in all, one bounces; the operator flags the pool (limits × 0.1).
        IServiceProvider app = Instance();
        List<EmailSendAttribution> trial = await SendAsync(app, ("trial-1", 3), ("trial-2", 2), ("paid-1", 1), ("solo", 1));
        await BounceAsync(app, trial[0]);
        await app.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.TenantPool, "trial", EmailGuardFlagReasons.HighBounceRate, flaggedBy: "ops");
        await app.GetRequiredService<GuardStateCache>().StartRefresh();

        // Act: the name as an operator types it, in another case and with a space.
        EmailGuardStatus status = await Guard(app).GetStatusAsync(new EmailGuardStatusQuery { TenantPool = " TRIAL" });
        IReadOnlyList<EmailFeedbackCounts> counts = await app.GetRequiredService<IEmailFeedbackCounts>().GetStatusAsync(new EmailGuardStatusQuery { TenantPool = "Trial" });

        // Assert: the global rule, then the pool's two, reduced as the check reduces them; no tenant's.
        status.UnknownTenantPool.Should().BeNull();
        status.Usage.Select(u => (u.Dimension, u.Partition, u.Count, u.Limit)).Should().Equal(
            (EmailGuardDimension.Global, null, 7L, 10_000L),
            (EmailGuardDimension.Tenant, "pool:trial", 5L, 5L),
            (EmailGuardDimension.Tenant, "pool:trial", 5L, 20L));
        status.Flags.Should().ContainSingle().Which.Should().BeEquivalentTo(
            new { PartyType = EmailGuardPartyType.TenantPool, PartyId = "trial", Reason = EmailGuardFlagReasons.HighBounceRate }, o => o.ExcludingMissingMembers());
        status.Ratios.Select(r => (r.Counts.Dimension, r.Counts.Partition, r.Counts.Sends, r.Counts.Bounces)).Should().Equal(
            (EmailGuardDimension.Global, null, 7L, 1L),
            (EmailGuardDimension.Tenant, "pool:trial", 5L, 1L));
        status.Ratios[1].BreakerState.Should().Be(EmailRatioBreakerState.Tripped, "the pool's flag is a trip of its breaker");
        status.Ratios[1].BreakerAction.Should().Be(EmailRatioBreakerAction.Reduced);
        counts.Select(c => (c.Dimension, c.Partition, c.Sends, c.Bounces)).Should().Equal(status.Ratios.Select(r => (r.Counts.Dimension, r.Counts.Partition, r.Counts.Sends, r.Counts.Bounces)));

        // The check agrees: the pool's reduced 5 an hour are used up.
        EmailSendDecision next = await Guard(app).CheckAsync(new OutboundEmail { To = ["next@example.com"], TenantId = "trial-3" });
        (next.Reason, next.Partition).Should().Be((EmailSendReason.LimitExceeded, "pool:trial"));
    }

    [Theory]
    [InlineData("trail")]
    [InlineData("   ")]
    [InlineData("")]
    [InlineData("<script>alert(1)</script>")]
    public async Task Status_UnknownTenantPool_IsSaidSo_WithNoUsageFlagsOrRatiosOfIt(string name)
    {
        IServiceProvider app = Instance();
        await SendAsync(app, ("trial-1", 1));

        EmailGuardStatus status = await Guard(app).GetStatusAsync(new EmailGuardStatusQuery { TenantPool = name });
        EmailGuardStatus tooLong = await Guard(app).GetStatusAsync(new EmailGuardStatusQuery { TenantPool = "trial" + new string('x', 10_000) });

        foreach (EmailGuardStatus s in new[] { status, tooLong })
        {
            s.IsStoreAvailable.Should().BeTrue();
            s.UnknownTenantPool.Should().NotBeNull();
            s.Usage.Should().OnlyContain(u => u.Dimension == EmailGuardDimension.Global);
            s.Flags.Should().BeEmpty();
            s.Ratios.Select(r => r.Counts.Dimension).Should().Equal(EmailGuardDimension.Global);
        }

        status.UnknownTenantPool.Should().Be(name, "the name as given");
    }

    [Fact]
    public async Task Status_TenantAndItsOwnPool_ShowThePoolOnce_AndATenantOfAnotherPool_ShowsBothPools()
    {
        // Arrange: the trial pool is flagged, the paid pool is not.
        IServiceProvider app = Instance();
        List<EmailSendAttribution> sent = await SendAsync(app, ("trial-1", 2), ("paid-1", 3));
        await BounceAsync(app, sent[^1]);
        await app.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.TenantPool, "trial", EmailGuardFlagReasons.HighBounceRate, flaggedBy: "ops");
        await app.GetRequiredService<GuardStateCache>().StartRefresh();

        // Act
        EmailGuardStatus same = await Guard(app).GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial-1", TenantPool = "trial" });
        EmailGuardStatus other = await Guard(app).GetStatusAsync(new EmailGuardStatusQuery { TenantId = "paid-1", TenantPool = "trial" });

        // Assert: the tenant's own rule, its pool's, then the queried pool when it is another; each pool's flags and ratios its own.
        same.Usage.Where(u => u.Dimension == EmailGuardDimension.Tenant).Select(u => (u.Partition, u.Count, u.Limit)).Should().Equal(
            ("trial-1", 2L, 1_000L), ("pool:trial", 2L, 5L), ("pool:trial", 2L, 20L));
        same.Flags.Should().ContainSingle(f => f.PartyType == EmailGuardPartyType.TenantPool);
        same.Ratios.Select(r => r.Counts.Partition).Should().Equal(null, "trial-1", "pool:trial");
        same.Ratios[^1].BreakerState.Should().Be(EmailRatioBreakerState.Tripped);

        other.Usage.Where(u => u.Dimension == EmailGuardDimension.Tenant).Select(u => (u.Partition, u.Count, u.Limit)).Should().Equal(
            ("paid-1", 3L, 1_000L), ("pool:paid", 3L, 1_000L), ("pool:trial", 2L, 5L), ("pool:trial", 2L, 20L));
        other.Flags.Select(f => (f.PartyType, f.PartyId)).Should().Equal((EmailGuardPartyType.TenantPool, "trial"));
        other.Ratios.Select(r => (r.Counts.Partition, r.Counts.Sends, r.Counts.Bounces, r.BreakerState)).Should().Equal(
            (null, 5L, 1L, EmailRatioBreakerState.Closed),
            ("paid-1", 3L, 1L, EmailRatioBreakerState.Closed),
            ("pool:paid", 3L, 1L, EmailRatioBreakerState.Closed),
            ("pool:trial", 2L, 0L, EmailRatioBreakerState.Tripped));
    }

    [Fact]
    public async Task FeedbackCounts_QueriedPool_ReadLastByItsNameTrimmedInLowerCase_WithoutRules0_AndABlankNameRefused()
    {
        // Arrange
        IServiceProvider app = Instance();
        List<EmailSendAttribution> sent = await SendAsync(app, ("trial-1", 2), ("paid-1", 1));
        await BounceAsync(app, sent[0]);
        IEmailFeedbackCounts counts = app.GetRequiredService<IEmailFeedbackCounts>();

        // Act: the counts read the pool named, not the tenant's (only the guard's status looks that up).
        IReadOnlyList<EmailFeedbackCounts> both = await counts.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "paid-1", TenantPool = " TRIAL " });
        IReadOnlyList<EmailFeedbackCounts> unknown = await counts.GetStatusAsync(new EmailGuardStatusQuery { TenantPool = "nosuch" });
        Func<Task> blank = async () => await counts.GetStatusAsync(new EmailGuardStatusQuery { TenantPool = " " });

        // Assert
        both.Select(c => (c.Dimension, c.Partition, c.Sends, c.Bounces)).Should().Equal(
            (EmailGuardDimension.Global, null, 3L, 1L), (EmailGuardDimension.Tenant, "paid-1", 1L, 0L), (EmailGuardDimension.Tenant, "pool:trial", 2L, 1L));
        unknown.Select(c => (c.Dimension, c.Partition, c.Sends)).Should().Equal((EmailGuardDimension.Global, null, 3L), (EmailGuardDimension.Tenant, "pool:nosuch", 0L));
        await blank.Should().ThrowAsync<ArgumentException>();
    }

    private static IEmailSendGuard Guard(IServiceProvider app) => app.GetRequiredService<IEmailSendGuard>();

    private IServiceProvider Instance()
    {
        CountingTenantLimitProvider provider = new(t => t switch
        {
            _ when t.StartsWith("trial-", StringComparison.Ordinal) => new TenantLimits { Rules = [RateLimitRule.PerDay(1_000)], Pool = "trial" },
            _ when t.StartsWith("paid-", StringComparison.Ordinal) => new TenantLimits { Rules = [RateLimitRule.PerDay(1_000)], Pool = "paid" },
            _ => new TenantLimits { Rules = [RateLimitRule.PerDay(1_000)] },
        });
        return CreateInstance(
            s =>
            {
                s.AddSingleton<TimeProvider>(Time);
                s.AddSingleton<ITenantLimitProvider>(provider);
            },
            o =>
            {
                o.StateRefreshInterval = TimeSpan.FromHours(1);
                o.Global.Add(RateLimitRule.PerDay(10_000));
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(50)).Add(RateLimitRule.PerDay(200));
                o.TenantPools["paid"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1_000));
            });
    }

    private static async Task<List<EmailSendAttribution>> SendAsync(IServiceProvider app, params (string Tenant, int Count)[] sends)
    {
        List<EmailSendAttribution> attributions = [];
        foreach ((string tenant, int count) in sends)
        {
            for (int i = 0; i < count; i++)
            {
                EmailSendDecision decision = await Guard(app).CheckAsync(new OutboundEmail { To = [$"{tenant}-{i}@example.com"], TenantId = tenant });
                decision.IsAllowed.Should().BeTrue($"{decision.Reason} {decision.Partition}");
                attributions.Add(decision.Attribution!);
            }
        }

        return attributions;
    }

    private static async Task BounceAsync(IServiceProvider app, EmailSendAttribution mail)
    {
        EmailFeedbackResult result = await app.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "bounce-" + mail.SendId,
            Recipient = "bounced-" + mail.SendId + "@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = mail,
        });
        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
    }
}
