using EmailGuard.Testing.Configuration;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>The send guard's caps reload with <c>EmailGuard:SendGuard</c>, validated as at startup, as the endpoint policies do.</summary>
public sealed class SendGuardReloadTests
{
    private const string Root = "EmailGuard:SendGuard";

    private sealed class App(ServiceProvider services, IConfigurationRoot configuration, FakeLogCollector logs) : IAsyncDisposable
    {
        public IEmailSendGuard Guard { get; } = services.GetRequiredService<IEmailSendGuard>();

        public ServiceProvider Services => services;

        public FakeLogCollector Logs => logs;

        public void Reload(params string[] settings)
        {
            foreach (string[] pair in settings.Select(s => s.Split('=', 2)))
            {
                configuration[pair[0]] = pair[1];
            }

            configuration.Reload();
        }

        public string[] Messages(int id) => [.. logs.GetSnapshot().Where(r => r.Id.Id == id).Select(r => r.Message)];

        public ValueTask DisposeAsync() => services.DisposeAsync();
    }

    private static App Start(Action<IServiceCollection>? more = null, params string[] settings)
    {
        IConfigurationRoot configuration = new ConfigurationBuilder().AddInMemoryCollection(TestSettings.Parse(settings)).Build();
        FakeLogCollector logs = new();
        ServiceProvider services = SendGuardTestServices.Build(
            logs: logs,
            more: s =>
            {
                s.AddSingleton<IConfiguration>(configuration);
                more?.Invoke(s);
            });
        return new App(services, configuration, logs);
    }

    /// <summary>A configuration source whose settings a test replaces whole, removing keys as a deleted file does.</summary>
    private sealed class ReplaceableProvider(Dictionary<string, string?> initial) : ConfigurationProvider, IConfigurationSource
    {
        public override void Load() => Data = new Dictionary<string, string?>(initial, StringComparer.OrdinalIgnoreCase);

        public void Replace(Dictionary<string, string?> settings)
        {
            Data = new Dictionary<string, string?>(settings, StringComparer.OrdinalIgnoreCase);
            OnReload();
        }

        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
    }

    private static OutboundEmail Mail(string tenant = "acme", string to = "a@example.com") => new() { To = [to], TenantId = tenant };

    private static async Task<bool[]> SendAsync(IEmailSendGuard guard, int count, string tenant = "acme")
    {
        bool[] allowed = new bool[count];
        for (int i = 0; i < count; i++)
        {
            allowed[i] = (await guard.CheckAsync(Mail(tenant, $"r{i}@example.com"))).IsAllowed;
        }

        return allowed;
    }

    [Fact]
    public async Task Reload_LoweredTenantCap_DeniesAtOnce_CountingWhatWasAdmitted()
    {
        await using App app = Start(settings: [$"{Root}:Tenant:Rules:0:Limit=5", $"{Root}:Tenant:Rules:0:Window=01:00:00"]);
        (await SendAsync(app.Guard, 3)).Should().AllBeEquivalentTo(true);

        app.Reload($"{Root}:Tenant:Rules:0:Limit=3");

        EmailSendDecision fourth = await app.Guard.CheckAsync(Mail());
        fourth.IsAllowed.Should().BeFalse("the three admitted before the reload count against the lowered cap of 3: the counter's key names the window, not the limit");
        fourth.Dimension.Should().Be(EmailGuardDimension.Tenant);
        app.Messages(3128).Should().Equal("A reload changed EmailGuard:SendGuard:Tenant: was 5/01:00:00 fixed, now 3/01:00:00 fixed.");
    }

    [Fact]
    public async Task Reload_RaisedGlobalCap_AdmitsAtOnce()
    {
        await using App app = Start(settings: [$"{Root}:Global:Rules:0:Limit=2"]);
        (await SendAsync(app.Guard, 3)).Should().Equal(true, true, false);

        app.Reload($"{Root}:Global:Rules:0:Limit=4");

        (await SendAsync(app.Guard, 3)).Should().Equal([true, true, false], "the raised cap of 4 admits two more after the two admitted before it");
    }

    [Fact]
    public async Task Reload_ChangedWindow_StartsNewCounters()
    {
        // A window of another length is another counter (its shape names it): the counts of the old window do not carry over.
        await using App app = Start(settings: [$"{Root}:Global:Rules:0:Limit=2", $"{Root}:Global:Rules:0:Window=01:00:00"]);
        (await SendAsync(app.Guard, 3)).Should().Equal(true, true, false);

        app.Reload($"{Root}:Global:Rules:0:Window=02:00:00");

        (await SendAsync(app.Guard, 3)).Should().Equal(true, true, false);
        app.Messages(3128).Should().Equal("A reload changed EmailGuard:SendGuard:Global: was 2/01:00:00 fixed, now 2/02:00:00 fixed.");
    }

    [Fact]
    public async Task Reload_LoweredTokenBucket_KeepsTheSpentPermits_NotAFreshBurst()
    {
        // 10 per hour, 6 spent; lowered to 8 per hour: the 6 stay spent, so 2 more fit, where a new bucket would hand
        // the rogue 8 at once.
        await using App app = Start(settings: [$"{Root}:Tenant:Rules:0:Limit=10", $"{Root}:Tenant:Rules:0:Algorithm=TokenBucket"]);
        (await SendAsync(app.Guard, 6)).Should().AllBeEquivalentTo(true);

        app.Reload($"{Root}:Tenant:Rules:0:Limit=8");

        (await SendAsync(app.Guard, 3)).Should().Equal([true, true, false], "the 6 spent before the reload stay spent in the lowered bucket");
        app.Messages(3128).Should().Equal("A reload changed EmailGuard:SendGuard:Tenant: was 10/01:00:00 token bucket, burst 10, now 8/01:00:00 token bucket, burst 8.");
    }

    [Fact]
    public async Task Reload_TokenBucketLimitOfAnExplicitBurst_KeepsTheSpentPermits()
    {
        // Burst 10 at 10 per hour, all spent; the rate lowered to 5 per hour: nothing fits until one permit came back.
        await using App app = Start(settings: [$"{Root}:Global:Rules:0:Limit=10", $"{Root}:Global:Rules:0:Algorithm=TokenBucket", $"{Root}:Global:Rules:0:Burst=10"]);
        (await SendAsync(app.Guard, 10)).Should().AllBeEquivalentTo(true);

        app.Reload($"{Root}:Global:Rules:0:Limit=5");

        EmailSendDecision next = await app.Guard.CheckAsync(Mail());
        next.IsAllowed.Should().BeFalse();
        next.RetryAfter.Should().BeGreaterThan(TimeSpan.FromMinutes(11), "the 10 spent come back at the new rate, one every 12 minutes");
    }

    [Fact]
    public async Task TenantOverride_ChangedTokenBucket_KeepsTheSpentPermits()
    {
        // The provider's answer for a tenant changes from 10 to 8 per hour (an operator edits its row).
        RateLimitRule answer = RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 10);
        CountingTenantLimitProvider provider = new(tenant => new TenantLimits { Rules = [answer] });
        await using App app = Start(s => s.AddSingleton<ITenantLimitProvider>(provider), $"{Root}:Tenant:Rules:0:Limit=100");
        IEmailGuardTenantLimits limits = app.Services.GetRequiredService<IEmailGuardTenantLimits>();
        (await SendAsync(app.Guard, 6, "trial")).Should().AllBeEquivalentTo(true);

        answer = RateLimitRule.TokenBucket(8, TimeSpan.FromHours(1), 8);
        await limits.InvalidateAsync("trial");

        (await SendAsync(app.Guard, 3, "trial")).Should().Equal([true, true, false], "the 6 spent under the old answer stay spent under the new one");
    }

    [Fact]
    public async Task Reload_PoolCap_AppliesWithoutRestart()
    {
        await using App app = Start(settings: [$"{Root}:TenantPools:trial:Rules:0:Limit=5", $"{Root}:DefaultTenantPool=trial"]);
        (await app.Guard.CheckAsync(Mail("t1"))).IsAllowed.Should().BeTrue();
        (await app.Guard.CheckAsync(Mail("t2"))).IsAllowed.Should().BeTrue();

        app.Reload($"{Root}:TenantPools:trial:Rules:0:Limit=2");

        EmailSendDecision third = await app.Guard.CheckAsync(Mail("t3"));
        third.IsAllowed.Should().BeFalse("the pool's two sends fill its lowered cap");
        third.Partition.Should().Be("pool:trial");
        app.Messages(3128).Should().Equal("A reload changed EmailGuard:SendGuard:TenantPools:trial: was 5/01:00:00 fixed, now 2/01:00:00 fixed.");
    }

    [Fact]
    public async Task Reload_TenantDefaults_ApplyToATenantTheProviderGivesNoOverride()
    {
        CountingTenantLimitProvider provider = new(tenant => tenant == "vip" ? new TenantLimits { Rules = [RateLimitRule.PerHour(100)] } : null);
        await using App app = Start(s => s.AddSingleton<ITenantLimitProvider>(provider), $"{Root}:Tenant:Rules:0:Limit=10");
        (await SendAsync(app.Guard, 2, "plain")).Should().AllBeEquivalentTo(true);
        (await SendAsync(app.Guard, 2, "vip")).Should().AllBeEquivalentTo(true);

        app.Reload($"{Root}:Tenant:Rules:0:Limit=2");

        (await app.Guard.CheckAsync(Mail("plain"))).IsAllowed.Should().BeFalse("a tenant without an override has the reloaded defaults, from its cached answer");
        (await app.Guard.CheckAsync(Mail("vip"))).IsAllowed.Should().BeTrue("a tenant's own limits are the provider's");
    }

    [Fact]
    public async Task Reload_TenantDefaults_CapTheFallbackOfAnInvalidatedTenantWhoseProviderFails()
    {
        // After an operator changed a tenant's limits, a failed lookup falls back to the stricter of its last answer and
        // the defaults. That fallback was the answer of the lookup, cached with the defaults of the moment, so a reload
        // that lowered them left the tenant on the old ones until the cache entry expired.
        CountingTenantLimitProvider provider = new(tenant => tenant == "vip" ? new TenantLimits { Rules = [RateLimitRule.PerHour(100)] } : null);
        await using App app = Start(s => s.AddSingleton<ITenantLimitProvider>(provider), $"{Root}:Tenant:Rules:0:Limit=10");
        IEmailGuardTenantLimits limits = app.Services.GetRequiredService<IEmailGuardTenantLimits>();
        (await SendAsync(app.Guard, 3, "vip")).Should().AllBeEquivalentTo(true);
        (await SendAsync(app.Guard, 3, "plain")).Should().AllBeEquivalentTo(true);
        await limits.InvalidateAsync("vip");
        await limits.InvalidateAsync("plain");
        provider.Failure = new InvalidOperationException("The tenant database is down.");
        (await app.Guard.CheckAsync(Mail("vip"))).IsAllowed.Should().BeTrue("the stricter of 100 and the default 10 admits a fourth");
        (await app.Guard.CheckAsync(Mail("plain"))).IsAllowed.Should().BeTrue("the default 10 admits a fourth");

        app.Reload($"{Root}:Tenant:Rules:0:Limit=2");

        EmailSendDecision vip = await app.Guard.CheckAsync(Mail("vip"));
        EmailSendDecision plain = await app.Guard.CheckAsync(Mail("plain"));
        vip.IsAllowed.Should().BeFalse("the fallback is the stricter of its last answer and the reloaded default of 2, which its 4 sends are over");
        vip.Usage.ToArray().Single(u => u.Dimension == EmailGuardDimension.Tenant).Rule.Limit.Should().Be(2);
        plain.IsAllowed.Should().BeFalse("a tenant without an override has the reloaded default");
    }

    [Fact]
    public async Task Reload_RaisedTenantDefaults_LeaveAnInvalidatedTenantsLowerOverride()
    {
        // The stricter of the two, both ways: a trial tenant cut below the defaults keeps its own cap when they rise.
        CountingTenantLimitProvider provider = new(tenant => tenant == "trial" ? new TenantLimits { Rules = [RateLimitRule.PerHour(3)] } : null);
        await using App app = Start(s => s.AddSingleton<ITenantLimitProvider>(provider), $"{Root}:Tenant:Rules:0:Limit=10");
        IEmailGuardTenantLimits limits = app.Services.GetRequiredService<IEmailGuardTenantLimits>();
        (await SendAsync(app.Guard, 2, "trial")).Should().AllBeEquivalentTo(true);
        await limits.InvalidateAsync("trial");
        provider.Failure = new InvalidOperationException("The tenant database is down.");

        app.Reload($"{Root}:Tenant:Rules:0:Limit=50");

        (await SendAsync(app.Guard, 2, "trial")).Should().Equal([true, false], "its own 3 stays the stricter");
    }

    [Theory]
    [InlineData("Tenant:Rules:0:Limit", "-1", "EmailGuard:SendGuard:Tenant:Rules:0:Limit")]
    [InlineData("Tenant:Rules:0:Limt", "1", "EmailGuard:SendGuard:Tenant:Rules:0:Limt: unknown setting")]
    [InlineData("Tenant:Rules:0:Window", "24:00:00", "EmailGuard:SendGuard:Tenant:Rules:0:Window: '24:00:00' is 24.00:00:00 in .NET's reading (24 days, not hours")]
    public async Task Reload_Invalid_KeepsTheCapsAndLogsEachFailureWithItsPath(string key, string value, string expected)
    {
        await using App app = Start(settings: [$"{Root}:Tenant:Rules:0:Limit=2"]);
        (await SendAsync(app.Guard, 1)).Should().Equal(true);

        app.Reload($"{Root}:Tenant:Rules:0:Limit=100", $"{Root}:{key}={value}");

        app.Messages(3126).Should().ContainSingle().Which.Should().Contain(expected);
        app.Messages(3128).Should().BeEmpty();
        (await SendAsync(app.Guard, 2)).Should().Equal([true, false], "the cap of 2 in force stays: the refused reload's 100 is not taken");
    }

    [Fact]
    public async Task Reload_SectionGone_KeepsTheCaps_ButEmptyRulesLiftThem()
    {
        // A settings file removed (or one that fails to parse: the file provider then empties its data on reload) leaves
        // no setting under EmailGuard:SendGuard; taken, that lifted every cap of the app with information logs only.
        ReplaceableProvider provider = new(TestSettings.Parse($"{Root}:Recipient:Rules:0:Limit=1", $"{Root}:Global:Rules:0:Limit=100"));
        IConfigurationRoot configuration = new ConfigurationBuilder().Add(provider).Build();
        FakeLogCollector logs = new();
        await using ServiceProvider services = SendGuardTestServices.Build(logs: logs, more: s => s.AddSingleton<IConfiguration>(configuration));
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(Mail())).IsAllowed.Should().BeTrue();

        provider.Replace(TestSettings.Parse("Logging:LogLevel:Default=Information"));

        logs.GetSnapshot().Where(r => r.Id.Id == 3126).Select(r => r.Message).Should().ContainSingle().Which.Should().Contain(
            "EmailGuard:SendGuard: no setting is left under it");
        logs.GetSnapshot().Where(r => r.Id.Id == 3128).Should().BeEmpty();
        (await guard.CheckAsync(Mail())).IsAllowed.Should().BeFalse("the recipient cap of 1 in force stays");
        services.GetRequiredService<IEmailSendGuardCaps>().Current.Recipient.Rules.Should().ContainSingle();

        // Lists written empty ("Rules": [] in JSON, a key without a value) lift the caps on purpose.
        provider.Replace(new Dictionary<string, string?> { [$"{Root}:Recipient:Rules"] = null, [$"{Root}:Global:Rules"] = null });

        (await guard.CheckAsync(Mail())).IsAllowed.Should().BeTrue();
        logs.GetSnapshot().Where(r => r.Id.Id == 3128).Select(r => r.Message).Should().Equal(
            "A reload changed EmailGuard:SendGuard:Global: was 100/01:00:00 fixed, now none.",
            "A reload changed EmailGuard:SendGuard:Recipient: was 1/01:00:00 fixed, now none.");
    }

    [Fact]
    public async Task Reload_StartOnlySetting_WarnsAndKeepsTheStartValue()
    {
        await using App app = Start(settings: [$"{Root}:Global:Rules:0:Limit=100", $"{Root}:MaxRecipientsPerMessage=10"]);

        app.Reload($"{Root}:MaxRecipientsPerMessage=1");

        app.Messages(3127).Should().Equal(
            "A reload changed EmailGuard:SendGuard:MaxRecipientsPerMessage, which the send guard reads only when it starts: it keeps the value it started with until the app restarts.");
        (await app.Guard.CheckAsync(new OutboundEmail { To = ["a@example.com", "b@example.com"] })).IsAllowed.Should().BeTrue("the start's 10 recipients still apply");

        // The same change again is not news.
        app.Reload($"{Root}:Global:Rules:0:Limit=50");
        app.Messages(3127).Should().HaveCount(1);
    }

    [Fact]
    public async Task Reload_AddedPool_IsKeptForARestartWithAWarning()
    {
        await using App app = Start(settings: [$"{Root}:TenantPools:trial:Rules:0:Limit=5"]);

        app.Reload($"{Root}:TenantPools:paid:Rules:0:Limit=1", $"{Root}:DefaultTenantPool=paid");

        app.Messages(3129).Should().Equal(
            "A reload changed EmailGuard:SendGuard:TenantPools:paid, which stays as it was until the app restarts: a pool added by a reload caps nothing until a restart.",
            "A reload changed EmailGuard:SendGuard:DefaultTenantPool, which stays as it was until the app restarts: it names a pool the guard did not start with.");
        (await SendAsync(app.Guard, 2, "t1")).Should().AllBeEquivalentTo(true);

        // A later reload of another cap is not news of the same kept pool; a new value for it is.
        app.Reload($"{Root}:Global:Rules:0:Limit=50");
        app.Messages(3129).Should().HaveCount(2);
        app.Reload($"{Root}:TenantPools:paid:Rules:0:Limit=2");
        app.Messages(3129).Should().HaveCount(3).And.EndWith(
            "A reload changed EmailGuard:SendGuard:TenantPools:paid, which stays as it was until the app restarts: a pool added by a reload caps nothing until a restart.");
    }

    [Fact]
    public async Task Reload_AddsContentRules_TheirDenialsTripTheBulkContentFlag()
    {
        // An app that started with no Content rules: the bulk content monitor was never made, so the rules a reload added
        // denied the rogue's campaign but its trips counted towards no flag, where docs/content.md promises one at 3.
        await using App app = Start(settings: [$"{Root}:Global:Rules:0:Limit=1000"]);
        IEmailGuardFlags flags = app.Services.GetRequiredService<IEmailGuardFlags>();

        app.Reload($"{Root}:Content:Rules:0:Limit=5", $"{Root}:Content:Rules:0:Window=01:00:00");
        EmailSendDecision[] decisions = new EmailSendDecision[3];
        for (int i = 0; i < decisions.Length; i++)
        {
            decisions[i] = await app.Guard.CheckAsync(Campaign(i));
        }

        decisions.Should().OnlyContain(d => d.Reason == EmailSendReason.LimitExceeded && d.Dimension == EmailGuardDimension.Content, "the reloaded rule denies a text to 6 recipients");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "rogue")).Select(f => f.Reason).Should().Equal(
            [EmailGuardFlagReasons.BulkContent], "3 trips within the hour flag the tenant, as with rules from the start");
        app.Messages(3127).Should().BeEmpty("the Content rules are a cap the reload applies, not a start-only setting");
    }

    /// <summary>One text to 6 recipients, over a content rule of 5 by itself.</summary>
    private static OutboundEmail Campaign(int round) => new()
    {
        To = [.. Enumerable.Range(0, 6).Select(r => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"buyer{round}-{r}@suppliers.example"))],
        TenantId = "rogue",
        Content = new EmailContent
        {
            Subject = "Invoice overdue",
            TextBody = "Your invoice is overdue. Confirm your account details at the link below to avoid suspension of deliveries.",
        },
    };

    [Fact]
    public async Task Reload_WhileChecking_EveryDecisionUsesOneSetOfCaps()
    {
        // Global and tenant caps move together, so a decision that read some of one reload and some of another would show
        // two different limits. Limits far above what is sent, so every check is admitted and reports both rules.
        await using App app = Start(settings: [$"{Root}:Global:Rules:0:Limit=1000000", $"{Root}:Tenant:Rules:0:Limit=1000000"]);
        using CancellationTokenSource done = new();
        Task reloads = Task.Run(() =>
        {
            for (int i = 0; !done.IsCancellationRequested; i++)
            {
                string limit = (1_000_000 + (i % 2)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                app.Reload($"{Root}:Global:Rules:0:Limit={limit}", $"{Root}:Tenant:Rules:0:Limit={limit}");
            }
        });

        List<long[]> seen = [];
        HashSet<long> limitsSeen = [];
        Task[] checks = [.. Enumerable.Range(0, 2).Select(t => Task.Run(async () =>
        {
            // Until both sets of caps decided some checks (and at least a thousand ran), so the test waits for no clock.
            for (int i = 0; i < 1_000 || (limitsSeen.Count < 2 && i < 1_000_000); i++)
            {
                EmailSendDecision decision = await app.Guard.CheckAsync(Mail($"t{t}", $"r{i % 100}@example.com"));
                long[] limits = [.. decision.Usage.ToArray().Where(u => u.Dimension is EmailGuardDimension.Global or EmailGuardDimension.Tenant).Select(u => u.Rule.Limit)];
                lock (seen)
                {
                    seen.Add(limits);
                    limitsSeen.Add(limits[0]);
                }
            }
        }))];
        await Task.WhenAll(checks);
        await done.CancelAsync();
        await reloads;

        seen.Should().OnlyContain(limits => limits.Length == 2 && limits[0] == limits[1]);
        seen.Select(limits => limits[0]).Distinct().Should().HaveCount(2, "the checks ran under both sets of caps");
    }
}
