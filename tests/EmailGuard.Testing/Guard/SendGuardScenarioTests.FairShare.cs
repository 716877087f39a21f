using System.Collections.Concurrent;
using System.Globalization;
using EmailGuard;
using EmailGuard.Testing.Stores;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// The fair share of the provider's budget on every store: a replay of the purchase-order incident with ten legitimate
/// tenants, one tenant that floods, and one attacker that creates tenants; and exact shares under concurrency.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    /// <summary>The provider's hourly limit in the incident.</summary>
    private const int ProviderHourlyLimit = 100;

    /// <summary>Each tenant's own hourly cap: below the budget, yet a few busy tenants' caps add up to more than it.</summary>
    private const int TenantHourlyCap = 60;

    private const int LegitTenants = 10;

    private static readonly DateTimeOffset s_attackStart = new(2026, 11, 23, 11, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task PurchaseOrderIncident_FairShareOn_NoLegitTenantWaitsBehindTheAttacker()
    {
        // Arrange: 100/hour at the provider; 20 first come, first served, then 80 shared by weight among 11 tenants: 7
        // each, which covers a legitimate tenant's 6 mails an hour.
        IncidentReplay replay = await ReplayIncidentAsync(fairShare: true, attackerTenants: 1, maxDefaultWeightTotal: 10);

        // Assert
        foreach (int hour in new[] { 11, 12 })
        {
            replay.AdmittedInHour(hour).Should().BeLessThanOrEqualTo(ProviderHourlyLimit, "the provider's hourly limit is never exceeded");
            replay.AttackerAdmitted(hour).Should().BeLessThanOrEqualTo(TenantHourlyCap, "the attacker stays within its own cap")
                .And.BeLessThanOrEqualTo(20 + 8, "it gets the first-come part at most, and then its share (8 while the window before still counts): {0}", replay);
            for (int t = 0; t < LegitTenants; t++)
            {
                replay.LegitAdmitted(hour, t).Should().Be(6, "legit tenant {0} sent each of its mails in hour {1}: {2}", t, hour, replay);
            }
        }

        replay.LegitDenials.Should().Be(0, "no legitimate mail waited: each went out when it was queued");
        replay.MaxLegitDelay.Should().Be(TimeSpan.Zero);
    }

    [Fact]
    public async Task PurchaseOrderIncident_FairShareOff_LegitTenantsWaitBehindTheAttacker()
    {
        // Arrange: the same replay without the policy: only the per-tenant caps.
        IncidentReplay replay = await ReplayIncidentAsync(fairShare: false, attackerTenants: 1, maxDefaultWeightTotal: 10);

        // Assert: the attacker takes its whole cap at each hour's start; 40 are left for the 60 legitimate mails.
        foreach (int hour in new[] { 11, 12 })
        {
            replay.AdmittedInHour(hour).Should().BeLessThanOrEqualTo(ProviderHourlyLimit);
            replay.AttackerAdmitted(hour).Should().Be(TenantHourlyCap);
            Enumerable.Range(0, LegitTenants).Sum(t => replay.LegitAdmitted(hour, t)).Should().Be(ProviderHourlyLimit - TenantHourlyCap);
        }

        replay.LegitDenials.Should().BePositive();
        replay.MaxLegitDelay.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMinutes(15), "legitimate mail waited for the next window behind the attacker: {0}", replay);
    }

    [Fact]
    public async Task FairShare_AttackerCreatesHundredsOfTenants_DefaultWeightsAreBoundedAndLegitTenantsKeepTheirShare()
    {
        // Arrange: every attempt from a new tenant the provider does not know; all of them together weigh at most 1.
        IncidentReplay replay = await ReplayIncidentAsync(fairShare: true, attackerTenants: 480, maxDefaultWeightTotal: 1, attackHours: 1);

        // Assert: shares sum to the contended part, so the pool of new tenants takes its share (8, then 7) and no more.
        replay.AdmittedInHour(11).Should().BeLessThanOrEqualTo(ProviderHourlyLimit);
        replay.AttackerAdmitted(11).Should().BeLessThanOrEqualTo(20 + 8, "{0}", replay);
        for (int t = 0; t < LegitTenants; t++)
        {
            replay.LegitAdmitted(11, t).Should().Be(6, "{0}", replay);
        }

        replay.LegitDenials.Should().Be(0, "{0}", replay);
    }

    [Fact]
    public async Task FairShare_AttackerCreatesHundredsOfTenants_WithoutTheBoundLegitTenantsStarve()
    {
        // Arrange: the contrast: a bound far above the attacker's tenant count, so each new tenant weighs 1.
        IncidentReplay replay = await ReplayIncidentAsync(fairShare: true, attackerTenants: 480, maxDefaultWeightTotal: 1_000, attackHours: 1);

        // Assert
        replay.AdmittedInHour(11).Should().BeLessThanOrEqualTo(ProviderHourlyLimit);
        replay.AttackerAdmitted(11).Should().BeGreaterThan(50, "{0}", replay);
        replay.LegitDenials.Should().BePositive();
    }

    [Fact]
    public async Task FairShare_ConcurrentInstances_EachTenantGetsExactlyItsWeightedShare()
    {
        // Arrange: 200/hour, all of it shared (threshold 0), weights 1, 1, 2 and 4: shares of 25, 25, 50 and 100.
        Dictionary<string, double> weights = new() { ["a"] = 1, ["b"] = 1, ["c"] = 2, ["d"] = 4 };
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerHour(1_000)], FairShareWeight = weights[t] });
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(8, o =>
        {
            o.Global.Add(RateLimitRule.PerHour(200));
            o.FairShare.Enabled = true;
            o.FairShare.ContentionThreshold = 0;
            o.FairShare.RefreshInterval = TimeSpan.FromHours(1);
        }, provider);
        foreach (string tenant in weights.Keys)
        {
            (await instances[0].Guard.CheckAsync(Mail($"first@{tenant}.example", tenant: tenant))).IsAllowed.Should().BeTrue();
        }

        ConcurrentDictionary<string, int> admitted = new();

        // Act: 8 instances × 64 callers each, 128 attempts per tenant, all at one instant.
        TaskCompletionSource start = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task[] callers = [.. Enumerable.Range(0, 8 * 64).Select(i => Task.Run(async () =>
        {
            string tenant = weights.Keys.ElementAt(i % 4);
            await start.Task;
            EmailSendDecision decision = await instances[i % 8].Guard.CheckAsync(Mail(string.Create(CultureInfo.InvariantCulture, $"r{i}@{tenant}.example"), tenant: tenant));
            if (decision.IsAllowed)
            {
                admitted.AddOrUpdate(tenant, 1, (_, n) => n + 1);
            }
            else
            {
                // A share's denial names the tenant; once every share is used, the provider's limit is reached too.
                decision.Dimension.Should().Be(EmailGuardDimension.Global);
                decision.Partition.Should().BeOneOf(tenant, null);
            }
        }))];
        start.SetResult();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromMinutes(2));

        // Assert: each share exactly, less the first mail; the shares add up to the provider's limit.
        admitted.Should().BeEquivalentTo(new Dictionary<string, int> { ["a"] = 24, ["b"] = 24, ["c"] = 49, ["d"] = 99 });
        (await instances[0].CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(200);
    }

    [Fact]
    public async Task FairShare_StoreDown_ChecksFollowTheFailureModeAndSharesResumeWhenItIsBack()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        SwitchableRateLimitStore store = new(CreateStore(time)) { Down = true };
        SendGuardHarness h = Create(
            o =>
            {
                o.Global.Add(RateLimitRule.PerHour(100));
                o.FairShare.Enabled = true;
                o.FairShare.ContentionThreshold = 0;
                o.FailureMode = StoreFailureMode.FailClosed;
            },
            time,
            store,
            new CountingTenantLimitProvider(_ => new TenantLimits { FairShareWeight = 1 }));

        // Act: neither the registration nor the view can be read; the check follows its failure mode, no exception.
        EmailSendDecision down = await h.Guard.CheckAsync(Mail("x@a.example", tenant: "a"));
        store.Down = false;
        time.Advance(TimeSpan.FromMinutes(1));
        (await h.Guard.CheckAsync(Mail("x@b.example", tenant: "b"))).IsAllowed.Should().BeTrue();
        int admitted = 0;
        for (int i = 0; i < 100; i++)
        {
            admitted += (await h.Guard.CheckAsync(Mail(string.Create(CultureInfo.InvariantCulture, $"r{i}@a.example"), tenant: "a"))).IsAllowed ? 1 : 0;
        }

        // Assert: once the store answers, both tenants are registered and a gets its half of the window.
        down.Reason.Should().Be(EmailSendReason.StoreUnavailable);
        admitted.Should().Be(50);
    }

    /// <summary>
    /// Replays the incident on simulated time in steps of 6 s: from 10:05 ten legitimate tenants queue one mail every
    /// 10 minutes each (60 an hour in all); from 11:00 the attacker tries 8 sends a step (4,800 an hour), from one
    /// tenant or from <paramref name="attackerTenants"/> new ones in turn. A denied legitimate mail stays at the head
    /// of its tenant's queue and is retried after its retry-after (at most a minute).
    /// </summary>
    private async Task<IncidentReplay> ReplayIncidentAsync(bool fairShare, int attackerTenants, double maxDefaultWeightTotal, int attackHours = 2)
    {
        CountingTenantLimitProvider provider = new(t => t.StartsWith("legit-", StringComparison.Ordinal)
            ? new TenantLimits { Rules = [RateLimitRule.PerHour(TenantHourlyCap)], FairShareWeight = 1 }
            : null);
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(ProviderHourlyLimit));
            o.Tenant.Add(RateLimitRule.PerHour(TenantHourlyCap));
            o.FairShare.Enabled = fairShare;
            o.FairShare.ContentionThreshold = 0.2;
            o.FairShare.MaxDefaultWeightTotal = maxDefaultWeightTotal;
        }, provider);

        IncidentReplay replay = new();
        Queue<DateTimeOffset>[] queues = [.. Enumerable.Range(0, LegitTenants).Select(_ => new Queue<DateTimeOffset>())];
        DateTimeOffset[] nextTry = new DateTimeOffset[LegitTenants];
        DateTimeOffset end = s_attackStart.AddHours(attackHours);
        int attempt = 0;
        for (int step = 0; h.Time.GetUtcNow() < end; step++, h.Time.Advance(TimeSpan.FromSeconds(6)))
        {
            DateTimeOffset now = h.Time.GetUtcNow();
            int hour = now.Hour;
            for (int t = 0; t < LegitTenants; t++)
            {
                if (step % 100 == t * 10)
                {
                    queues[t].Enqueue(now);
                }

                while (queues[t].Count != 0 && nextTry[t] <= now)
                {
                    EmailSendDecision decision = await h.Guard.CheckAsync(Mail(string.Create(CultureInfo.InvariantCulture, $"buyer{step}@customer{t}.example"), tenant: $"legit-{t}"));
                    if (!decision.IsAllowed)
                    {
                        replay.LegitDenials++;
                        nextTry[t] = now + TimeSpan.FromTicks(Math.Min(decision.RetryAfter.Ticks, TimeSpan.FromMinutes(1).Ticks));
                        break;
                    }

                    DateTimeOffset queued = queues[t].Dequeue();
                    replay.MaxLegitDelay = TimeSpan.FromTicks(Math.Max(replay.MaxLegitDelay.Ticks, (now - queued).Ticks));
                    replay.Count(hour, $"legit-{t}");
                }
            }

            if (now < s_attackStart)
            {
                continue;
            }

            for (int a = 0; a < 8; a++, attempt++)
            {
                string tenant = attackerTenants == 1 ? "trial-4711" : string.Create(CultureInfo.InvariantCulture, $"trial-{attempt % attackerTenants}");
                EmailSendDecision decision = await h.Guard.CheckAsync(Mail(string.Create(CultureInfo.InvariantCulture, $"sales@supplier{attempt % 300}.example"), tenant: tenant));
                if (decision.IsAllowed)
                {
                    replay.Count(hour, "attacker");
                }
            }
        }

        return replay;
    }

    /// <summary>What the replay admitted, per UTC hour and tenant.</summary>
    private sealed class IncidentReplay
    {
        private readonly Dictionary<(int Hour, string Tenant), int> _admitted = [];

        public int LegitDenials { get; set; }

        public TimeSpan MaxLegitDelay { get; set; }

        public void Count(int hour, string tenant) => _admitted[(hour, tenant)] = _admitted.GetValueOrDefault((hour, tenant)) + 1;

        public override string ToString()
            => string.Join(", ", _admitted.OrderBy(p => p.Key).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key.Hour}h {p.Key.Tenant}: {p.Value}")))
                + string.Create(CultureInfo.InvariantCulture, $"; legit denials {LegitDenials}, longest wait {MaxLegitDelay}");

        public int AdmittedInHour(int hour) => _admitted.Where(p => p.Key.Hour == hour).Sum(p => p.Value);

        public int AttackerAdmitted(int hour) => _admitted.GetValueOrDefault((hour, "attacker"));

        public int LegitAdmitted(int hour, int tenant) => _admitted.GetValueOrDefault((hour, $"legit-{tenant}"));
    }
}
