using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// Tenant pools from configuration: bound, enforced, validated at startup with the setting's path, counted by the
/// capacity check; a pool the provider names without rules is logged once. The pools' counting on every store:
/// SendGuardScenarioTests.TenantPools.
/// </summary>
public sealed class TenantPoolOptionsTests
{
    [Fact]
    public async Task TenantPools_FromConfiguration_AreBoundCaseInsensitively_AndTheDefaultPoolCapsTenantsWithoutAPlan()
    {
        Dictionary<string, string?> config = new()
        {
            ["EmailGuard:SendGuard:TenantPools:trial:Rules:0:Limit"] = "2",
            ["EmailGuard:SendGuard:TenantPools:trial:Rules:0:Window"] = "1.00:00:00",
            ["EmailGuard:SendGuard:DefaultTenantPool"] = "Trial",
        };
        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);
        sp.GetRequiredService<IStartupValidator>().Validate();
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        SendGuardOptions options = sp.GetRequiredService<IOptions<SendGuardOptions>>().Value;
        EmailSendDecision[] decisions =
        [
            await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "t1" }),
            await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "t2" }),
            await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "t3" }),
            await guard.CheckAsync(new OutboundEmail { To = ["d@example.com"] }),
        ];

        options.TenantPools["TRIAL"].Rules.Select(r => r.ToRule()).Should().Equal(RateLimitRule.PerDay(2));
        options.DefaultTenantPool.Should().Be("Trial");
        decisions.Select(d => d.IsAllowed).Should().Equal(true, true, false, true);
        decisions[2].Partition.Should().Be("pool:trial", "with no provider every tenant is in the default pool; a message without a tenant in none");
    }

    [Theory]
    [InlineData("EmailGuard:SendGuard:TenantPools:trial:Rules:0:Limit", "0", "EmailGuard:SendGuard:TenantPools:trial:Rules:0:Limit must be between 1")]
    [InlineData("EmailGuard:SendGuard:TenantPools:trial:Rules:0:Window", "00:00:00", "EmailGuard:SendGuard:TenantPools:trial:Rules:0:Window must be")]
    [InlineData("EmailGuard:SendGuard:DefaultTenantPool", "trail", "EmailGuard:SendGuard:DefaultTenantPool is 'trail', which has no entry in EmailGuard:SendGuard:TenantPools")]
    [InlineData("EmailGuard:SendGuard:DefaultTenantPool", "trial ", "EmailGuard:SendGuard:DefaultTenantPool is 'trial ', with whitespace around the pool name")]
    [InlineData("EmailGuard:SendGuard:TenantPools: paid:Rules:0:Limit", "5", "EmailGuard:SendGuard:TenantPools: paid has whitespace around the pool name ' paid'")]
    public async Task StartupValidation_InvalidPoolSetting_FailsNamingTheSetting(string key, string value, string expected)
    {
        Dictionary<string, string?> config = new() { ["EmailGuard:SendGuard:TenantPools:trial:Rules:0:Limit"] = "10", [key] = value };

        await using ServiceProvider sp = SendGuardTestServices.Build(configuration: config);

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();
        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public async Task Startup_PoolRules_CountInTheCapacityCheck()
    {
        // A tenant is in one pool: the pool with the most rules (2) counts, with the tenant's own 1.
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.MaxRecipientsPerMessage = 4_094;
            o.Recipient.Add(RateLimitRule.PerHour(5));
            o.Tenant.Add(RateLimitRule.PerHour(100));
            o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(50)).Add(RateLimitRule.PerDay(500));
            o.TenantPools["free"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(10));
        });

        Action start = () => sp.GetRequiredService<IStartupValidator>().Validate();

        start.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain("+ 3 message-wide rules (Tenant 1, TenantPool 2)");
    }

    [Fact]
    public async Task PoolWithoutRules_CapsNothing_AndIsLoggedOncePerPool()
    {
        FakeLogCollector logs = new();
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerHour(100)], Pool = t == "a" || t == "b" ? "trail" : "trial" });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1)),
            logs: logs,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        bool[] allowed = new bool[4];
        for (int i = 0; i < 4; i++)
        {
            allowed[i] = (await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = i % 2 == 0 ? "a" : "b" })).IsAllowed;
        }

        allowed.Should().OnlyContain(a => a, "the pool 'trail' has no rules");
        logs.GetSnapshot().Where(r => r.Id.Id == 3073).Should().ContainSingle().Which.Message.Should().Contain("trail");
    }

    [Fact]
    public async Task ProviderPoolName_PaddedLikeACharColumn_IsTrimmed_AndOneStillUnknownAfterTrimmingIsLogged()
    {
        // A CHAR(20) column gives "trial" padded to 20; "x"'s pool is padded too, and has no rules.
        FakeLogCollector logs = new();
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerHour(100)], Pool = t == "x" ? "  Trail             " : "trial               " });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1)),
            logs: logs,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision first = await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "a" });
        EmailSendDecision second = await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "b" });
        bool[] unknown = [
            (await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "x" })).IsAllowed,
            (await guard.CheckAsync(new OutboundEmail { To = ["d@example.com"], TenantId = "x" })).IsAllowed];

        first.IsAllowed.Should().BeTrue();
        first.Usage.ToArray().Should().ContainSingle(u => u.Partition == "pool:trial");
        (second.Reason, second.Partition).Should().Be((EmailSendReason.LimitExceeded, "pool:trial"), "both tenants are in the trial pool of 1 an hour");
        unknown.Should().Equal([true, true], "'Trail' has no rules, trimmed or not");
        logs.GetSnapshot().Where(r => r.Id.Id == 3073).Should().ContainSingle().Which.Message.Should().Contain("in the pool Trail, which");
    }

    [Fact]
    public async Task ProviderFails_TheTenantKeepsItsLastPool_AsItKeepsItsLastRules()
    {
        Microsoft.Extensions.Time.Testing.FakeTimeProvider time = new(SendGuardTestServices.Start);
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [RateLimitRule.PerHour(100)], Pool = "trial" });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1));
                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
            },
            time: time,
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "t" })).IsAllowed.Should().BeTrue();
        provider.Failure = new InvalidOperationException("database down");
        time.Advance(TimeSpan.FromMinutes(5));

        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "t" });

        provider.Calls("t").Should().Be(2, "the expired answer was looked up again, and the lookup failed");
        decision.Partition.Should().Be("pool:trial", "a failing provider does not take a tenant out of its pool");
    }
}
