using System.Diagnostics.Metrics;
using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.FairShare;

/// <summary>The fair share's options, weights, the flow of an idle tenant's share, and its logs and metrics.</summary>
public sealed class FairShareTests
{
    private static OutboundEmail Mail(string tenant, int i = 0) => new() { To = [$"r{i}@{tenant}.example"], TenantId = tenant };

    private static async Task<int> SendAsync(IEmailSendGuard guard, string tenant, int attempts)
    {
        int admitted = 0;
        for (int i = 0; i < attempts; i++)
        {
            admitted += (await guard.CheckAsync(Mail(tenant, i))).IsAllowed ? 1 : 0;
        }

        return admitted;
    }

    private static ServiceProvider Build(Action<SendGuardOptions> configure, Func<string, TenantLimits?> limits, FakeTimeProvider? time = null, FakeLogCollector? logs = null, IMeterFactory? meters = null)
        => SendGuardTestServices.Build(
            o =>
            {
                o.FairShare.Enabled = true;
                configure(o);
            },
            more: s =>
            {
                s.AddSingleton<ITenantLimitProvider>(new CountingTenantLimitProvider(limits));
                if (meters is not null)
                {
                    s.AddSingleton(meters);
                }
            },
            time: time,
            logs: logs);

    [Fact]
    public async Task AddSendGuard_FairShareFromConfiguration_IsBoundAndEnforced()
    {
        // Arrange
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:Global:Rules:0:Limit"] = "30",
            ["EmailGuard:SendGuard:Global:Rules:0:Window"] = "01:00:00",
            ["EmailGuard:SendGuard:FairShare:Enabled"] = "true",
            ["EmailGuard:SendGuard:FairShare:ContentionThreshold"] = "0",
            ["EmailGuard:SendGuard:FairShare:DefaultWeight"] = "2",
            ["EmailGuard:SendGuard:FairShare:MaxDefaultWeightTotal"] = "4",
            ["EmailGuard:SendGuard:FairShare:MaxWeight"] = "50",
            ["EmailGuard:SendGuard:FairShare:RefreshInterval"] = "00:00:05",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);
        sp.GetRequiredService<IStartupValidator>().Validate();
        FairShareOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value.FairShare;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // Act: three default-weight tenants (weight 2 each, 4 in all): each gets a third of the pool's 30.
        await guard.CheckAsync(Mail("a"));
        await guard.CheckAsync(Mail("b"));
        int admitted = await SendAsync(guard, "c", 50);

        // Assert
        (options.Enabled, options.ContentionThreshold, options.DefaultWeight, options.MaxDefaultWeightTotal, options.MaxWeight, options.RefreshInterval)
            .Should().Be((true, 0.0, 2.0, 4.0, 50.0, TimeSpan.FromSeconds(5)));
        admitted.Should().Be(10);
    }

    [Theory]
    [InlineData("EmailGuard:SendGuard:FairShare:ContentionThreshold", "1", "EmailGuard:SendGuard:FairShare:ContentionThreshold must be at least 0 and less than 1")]
    [InlineData("EmailGuard:SendGuard:FairShare:ContentionThreshold", "-0.1", "EmailGuard:SendGuard:FairShare:ContentionThreshold must be at least 0")]
    [InlineData("EmailGuard:SendGuard:FairShare:DefaultWeight", "0", "EmailGuard:SendGuard:FairShare:DefaultWeight must be greater than 0")]
    [InlineData("EmailGuard:SendGuard:FairShare:MaxWeight", "20000", "EmailGuard:SendGuard:FairShare:MaxWeight must be greater than 0 and at most 10000")]
    [InlineData("EmailGuard:SendGuard:FairShare:MaxDefaultWeightTotal", "0.5", "EmailGuard:SendGuard:FairShare:MaxDefaultWeightTotal must be at least EmailGuard:SendGuard:FairShare:DefaultWeight")]
    [InlineData("EmailGuard:SendGuard:FairShare:RefreshInterval", "02:00:00", "EmailGuard:SendGuard:FairShare:RefreshInterval must be between")]
    [InlineData("EmailGuard:SendGuard:FairShare:Threshold", "0.5", "EmailGuard:SendGuard:FairShare:Threshold: unknown setting")]
    [InlineData("EmailGuard:SendGuard:FairShare:Enabled", "true", "EmailGuard:SendGuard:FairShare:Enabled is true, but EmailGuard:SendGuard:Global:Rules has no fixed or sliding window rule")]
    public async Task StartupValidation_InvalidFairShareSetting_FailsNamingTheSetting(string key, string value, string expected)
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: new Dictionary<string, string?> { [key] = value });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public async Task StartupValidation_FairShareOnATokenBucketOnly_Fails()
    {
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.Global.Add(RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 14));
            o.FairShare.Enabled = true;
        });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("EmailGuard:SendGuard:FairShare:Enabled is true");
    }

    [Fact]
    public async Task Check_TenantIdleThisWindow_ItsShareFlowsToTheBusyTenantAsTheWindowGoesBy()
    {
        // Arrange: a and b both sent in the 10:00 window; at 11:00 only a is busy.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = Build(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(100));
                o.FairShare.ContentionThreshold = 0;
            },
            _ => new TenantLimits { FairShareWeight = 1 },
            time);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        (await SendAsync(guard, "a", 1)).Should().Be(1);
        (await SendAsync(guard, "b", 1)).Should().Be(1);

        // Act and assert: b still counts for all of the window's start (50 each), half at 11:15 (a's share 66), and no
        // more from 11:30: a takes the whole budget; b, idle, blocked no one.
        time.SetUtcNow(new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero));
        (await SendAsync(guard, "a", 100)).Should().Be(50);
        time.Advance(TimeSpan.FromMinutes(15));
        (await SendAsync(guard, "a", 100)).Should().Be(16);
        time.Advance(TimeSpan.FromMinutes(15));
        (await SendAsync(guard, "a", 100)).Should().Be(34);
        EmailSendDecision full = await guard.CheckAsync(Mail("a", 999));
        full.Dimension.Should().Be(EmailGuardDimension.Global);
        full.Partition.Should().BeNull("the provider's limit itself is reached, not a share");
    }

    [Fact]
    public async Task Check_HourlyAndSlidingDailyBudgets_EachRuleHasItsOwnShare()
    {
        // Arrange: a and b weigh 1 each: 50 of the hour, 60 of the (sliding) day each.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = Build(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.SlidingWindow(120, TimeSpan.FromDays(1), 24));
                o.FairShare.ContentionThreshold = 0;
            },
            _ => new TenantLimits { FairShareWeight = 1 },
            time);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        (await SendAsync(guard, "b", 1)).Should().Be(1);

        // Act and assert: the hourly share first; the next hour, what is left of the daily share.
        (await SendAsync(guard, "a", 100)).Should().Be(50);
        time.SetUtcNow(new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero));
        (await SendAsync(guard, "a", 100)).Should().Be(10);
        EmailSendDecision denied = await guard.CheckAsync(Mail("a", 999));
        (denied.Dimension, denied.Partition).Should().Be((EmailGuardDimension.Global, "a"));
    }

    [Fact]
    public async Task Check_WeightsFromTheProvider_AreBoundedAndInvalidOnesFallBackToTheDefault()
    {
        // Arrange
        FakeLogCollector logs = new();
        Dictionary<string, double> weights = new() { ["huge"] = 1e9, ["nan"] = double.NaN, ["negative"] = -1, ["two"] = 2 };
        await using ServiceProvider sp = Build(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(1_000));
                o.FairShare.MaxWeight = 10;
            },
            t => new TenantLimits { FairShareWeight = weights[t] },
            logs: logs);
        EmailSendGuard guard = (EmailSendGuard)sp.GetRequiredService<IEmailSendGuard>();

        // Act
        foreach (string tenant in weights.Keys)
        {
            await guard.CheckAsync(Mail(tenant));
        }

        // Assert
        FairShareTracker tracker = guard.FairShare!;
        weights.Keys.Select(tracker.WeightOf).Should().Equal(10, null, null, 2);
        logs.GetSnapshot().Where(r => r.Id.Id == 2344).Select(r => r.StructuredState!.Single(p => p.Key == "TenantId").Value)
            .Should().BeEquivalentTo("nan", "negative");
        tracker.Budgets.Single().View!.ActiveWeight(new FairShareOptions()).Should().Be(10 + 2 + 1 + 1, "two default-weight tenants count 1 each");
    }

    [Fact]
    public async Task Check_MessageWithoutTenantOrSkippingGlobal_CarriesNoShare()
    {
        // Arrange: a tenant's share would be 10 of 100 (weight 1 of 10); mail without a tenant is the app's own.
        await using ServiceProvider sp = Build(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(100));
                o.FairShare.ContentionThreshold = 0;
                o.FairShare.DefaultWeight = 10;
                o.FairShare.MaxDefaultWeightTotal = 10;
            },
            t => t == "small" ? new TenantLimits { FairShareWeight = 1 } : null);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(Mail("other"));

        // Act
        int small = await SendAsync(guard, "small", 50);
        int untenanted = 0;
        for (int i = 0; i < 200; i++)
        {
            untenanted += (await guard.CheckAsync(new OutboundEmail { To = [$"x{i}@app.example"] })).IsAllowed ? 1 : 0;
        }

        // Assert: 100 × 1 / (1 + 10) = 9 for the small tenant; the rest of the budget is the app's.
        small.Should().Be(9);
        untenanted.Should().Be(100 - 1 - 9);
    }

    [Fact]
    public async Task Check_BudgetBecomesContended_LogsOnceAndReportsActiveWeightAndContention()
    {
        // Arrange
        FakeLogCollector logs = new();
        using TestMeterFactory meters = new();
        await using ServiceProvider sp = Build(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(20));
                o.FairShare.ContentionThreshold = 0.5;
            },
            t => new TenantLimits { FairShareWeight = t == "a" ? 3 : 1 },
            logs: logs,
            meters: meters);
        using MetricCollector<double> weight = new(meters, EmailGuardDiagnostics.MeterName, FairShareTracker.ActiveWeightInstrument);
        using MetricCollector<int> contended = new(meters, EmailGuardDiagnostics.MeterName, FairShareTracker.ContendedInstrument);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        // Act: 10 first come, first served; then a (weight 3 of 4) may take 7 of the other 10, b 2.
        int b = await SendAsync(guard, "b", 1);
        int a = await SendAsync(guard, "a", 30);
        b += await SendAsync(guard, "b", 30);
        weight.RecordObservableInstruments();
        contended.RecordObservableInstruments();

        // Assert
        (a, b).Should().Be((9 + 7, 1 + 2));
        logs.GetSnapshot().Where(r => r.Id.Id == 2340).Should().ContainSingle();
        weight.LastMeasurement!.Value.Should().Be(4);
        weight.LastMeasurement.Tags["emailguard.window"].Should().Be("f3600000");
        contended.LastMeasurement!.Value.Should().Be(1);
    }

    [Fact]
    public async Task Check_ContendedShare_AllocatesNoMoreThanATenantRuleInItsPlace()
    {
        // Arrange: the same number of counters per check: global + share, against global + tenant rule.
        await using ServiceProvider shared = Build(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(1_000_000));
                o.FairShare.ContentionThreshold = 0;
            },
            _ => new TenantLimits { FairShareWeight = 1 });
        await using ServiceProvider plain = SendGuardTestServices.Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(1_000_000));
            o.Tenant.Add(RateLimitRule.PerHour(1_000_000));
        });

        // A second active tenant, so the share (half the budget) is a rule of its own, not the global rule.
        (await shared.GetRequiredService<IEmailSendGuard>().CheckAsync(Mail("other"))).IsAllowed.Should().BeTrue();

        // Act
        long withShare = MeasureChecks(shared.GetRequiredService<IEmailSendGuard>());
        long withTenantRule = MeasureChecks(plain.GetRequiredService<IEmailSendGuard>());

        // Assert
        withShare.Should().BeLessThanOrEqualTo(withTenantRule);
    }

    private static long MeasureChecks(IEmailSendGuard guard)
    {
        OutboundEmail mail = Mail("acme");
        for (int i = 0; i < 10; i++)
        {
            guard.CheckAsync(mail).AsTask().GetAwaiter().GetResult().IsAllowed.Should().BeTrue();
        }

        bool synchronous = true;
        long allocated = Allocations.LeastOf(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                ValueTask<EmailSendDecision> pending = guard.CheckAsync(mail);
                synchronous &= pending.IsCompletedSuccessfully;
                _ = pending.Result;
            }
        });
        synchronous.Should().BeTrue("the in-memory store and a fresh view decide synchronously");
        return allocated;
    }
}
