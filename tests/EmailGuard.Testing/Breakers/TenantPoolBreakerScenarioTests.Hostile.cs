using System.Globalization;
using EmailGuard;
using EmailGuard.Testing.Guard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Breakers;

/// <summary>
/// The tenant pool's ratio breaker under attack, on every store: a rogue paid to send from 200 trial tenants in one pool
/// tries to keep its bounces out of the pool's ratio, to escape the pool's trip, or to get a pool or tenant it is not
/// in stopped; and bursts of bounces and sends spread over two app instances (one and the same instance on a store
/// that is not shared) trip the pool once and admit its half-open probe exactly up to the reduced cap.
/// </summary>
public abstract partial class TenantPoolBreakerScenarioTests
{
    private List<EmailRatioBreakerArguments> PoolTrips
    {
        get
        {
            lock (Trips)
            {
                return [.. Trips.Where(t => t.TenantPool is not null)];
            }
        }
    }

    [Fact]
    public async Task BurstOfBouncesOverTwoInstances_PoolTripsExactlyOnce_HalfOpenProbeAdmittedExactlyUpToTheReducedCap()
    {
        // Arrange: 1,000 trial sends; 30 bounces (3 %: over the 2 % reduce line, under the 4 % suspend line).
        (IServiceProvider a, IServiceProvider b) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(a);

        // Act: the provider posts the 30 bounces at once and the balancer spreads them over both instances.
        await Task.WhenAll(trial.Take(30).Select((mail, i) => Task.Run(() => BounceAsync(i % 2 == 0 ? a : b, mail))));
        await RefreshAsync(a);
        await RefreshAsync(b);
        IReadOnlyList<EmailGuardFlag> tripped = await a.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "trial");

        // The trip ends; half-open, the pool's 5,000 an hour are cut to 500: 600 checks of its tenants race over both instances.
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(a);
        await RefreshAsync(b);
        EmailSendDecision[] probe = await Task.WhenAll(Enumerable.Range(0, 600).Select(i => Task.Run(
            () => CheckAsync(i % 2 == 0 ? a : b, Tenant(i % 200), "probe" + i.ToString(CultureInfo.InvariantCulture)))));
        await AdvanceAsync(HalfOpenFor);

        // Assert: one trip, whichever instance judged each bounce; one flag of it (and its half-open phase).
        PoolTrips.Select(t => (t.TenantPool, t.Action, t.Level)).Should().Equal([("trial", EmailRatioBreakerAction.Reduced, 1)]);
        tripped.Select(f => (f.Reason, f.Suspend)).Should().BeEquivalentTo(
            [(EmailGuardFlagReasons.HighBounceRate, false), (EmailGuardFlagReasons.HighBounceRateHalfOpen, false)]);

        // The probe: exactly the reduced cap admitted, the rest denied by the pool, each admitted send counted once in it.
        probe.Count(d => d.IsAllowed).Should().Be(500);
        probe.Where(d => !d.IsAllowed).Should().OnlyContain(d => d.Reason == EmailSendReason.LimitExceeded && d.Partition == "pool:trial");
        lock (Recoveries)
        {
            Recoveries.Where(r => r.TenantPool is not null).Should().ContainSingle().Which.Should().BeEquivalentTo(
                new { TenantPool = "trial", ProbeSends = 500L, ProbeFailures = 0L, Level = 1 }, o => o.ExcludingMissingMembers());
        }
    }

    [Fact]
    public async Task HalfOpenPool_BurstOfProbeBouncesOverTwoInstances_TripsAgainExactlyOnce_OneLevelHigher()
    {
        // Arrange: the pool reduced (30 bounces in 1,000); the trip ends; half-open, its tenants send a probe of 100.
        (IServiceProvider a, IServiceProvider b) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(a);
        foreach (EmailSendAttribution mail in trial.Take(30))
        {
            await BounceAsync(b, mail);
        }

        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(a);
        await RefreshAsync(b);
        List<EmailSendAttribution> probe = [];
        for (int i = 0; i < 100; i++)
        {
            EmailSendDecision decision = await CheckAsync(i % 2 == 0 ? a : b, Tenant(i), "probe" + i.ToString(CultureInfo.InvariantCulture));
            decision.IsAllowed.Should().BeTrue();
            probe.Add(decision.Attribution!);
        }

        // Act: 20 of the probe's mails bounce at once, spread over both instances.
        await Task.WhenAll(probe.Take(20).Select((mail, i) => Task.Run(() => BounceAsync(i % 2 == 0 ? a : b, mail))));
        await AdvanceAsync(HalfOpenFor);

        // Assert: the probe failed once: one trip again, at level 2, whichever instances judged its bounces (reduced, maybe
        // worsened to a suspension as the same trip, or suspended at once), never a trip at the level before it.
        List<EmailRatioBreakerArguments> trips = PoolTrips;
        trips.Select(t => (t.Action, t.Level)).First().Should().Be((EmailRatioBreakerAction.Reduced, 1));
        trips.Skip(1).Select(t => t.Level).Should().NotBeEmpty().And.OnlyContain(level => level == 2);
        trips.Select(t => (t.Action, t.Level)).Should().OnlyHaveUniqueItems();
        lock (Recoveries)
        {
            Recoveries.Should().NotContain(r => r.TenantPool != null);
        }
    }

    [Fact]
    public async Task TenantWhoseIdReadsAsThePoolsPartition_Bounces_TrippedAsItself_PoolAndItsTenantsUntouched()
    {
        // Arrange: a rogue tenant named "pool:trial", in no pool, sends 100 mails; the trial tenants send 1,000.
        (IServiceProvider a, IServiceProvider b) = Instances();
        await SendTrialAsync(a);
        List<EmailSendAttribution> rogue = [];
        for (int i = 0; i < 100; i++)
        {
            EmailSendDecision decision = await CheckAsync(a, "pool:trial", "r" + i.ToString(CultureInfo.InvariantCulture));
            decision.IsAllowed.Should().BeTrue();
            decision.Attribution!.TenantPool.Should().BeNull();
            rogue.Add(decision.Attribution);
        }

        // Act: 40 % of its mail bounces.
        foreach (EmailSendAttribution mail in rogue.Take(40))
        {
            await BounceAsync(b, mail);
        }

        await RefreshAsync(a);

        // Assert: the rogue tenant is suspended as a tenant; the trial pool is neither flagged nor judged over its bounces.
        IEmailGuardFlags flags = a.GetRequiredService<IEmailGuardFlags>();
        PoolTrips.Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "trial")).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "pool:trial")).Should().Contain(f => f.Suspend);
        (await CheckAsync(a, "pool:trial", "after")).Reason.Should().Be(EmailSendReason.Suspended);
        (await CheckAsync(a, "trial-3", "after")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task RefundedChecks_GiveTheirSendsBackToThePool_SoTheyCannotDiluteItsRatio()
    {
        // Arrange: the rogue checks 1,000 mails from its trial tenants and has 950 of them refunded (never sent).
        (IServiceProvider a, IServiceProvider b) = Instances();
        IEmailSendGuard guard = a.GetRequiredService<IEmailSendGuard>();
        List<EmailSendAttribution> sent = [];
        for (int i = 0; i < 1_000; i++)
        {
            EmailSendDecision decision = await CheckAsync(a, Tenant(i % 200), "d" + i.ToString(CultureInfo.InvariantCulture));
            decision.IsAllowed.Should().BeTrue();
            if (i < 950)
            {
                (await guard.RefundAsync(decision)).Should().BeTrue();
            }
            else
            {
                sent.Add(decision.Attribution!);
            }
        }

        // Act: 5 of the 50 mails sent bounce (10 %).
        foreach (EmailSendAttribution mail in sent.Take(5))
        {
            await BounceAsync(b, mail);
        }

        // Assert: the pool counts the 50 sent, not the 1,000 checked, so 5 bounces are 10 % and suspend it.
        EmailPartyRatioStatus pool = (await a.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial-0" })).Ratios[^1];
        (pool.Counts.Partition, pool.Counts.Sends, pool.Counts.Bounces).Should().Be(("pool:trial", 50L, 5L));
        PoolTrips.Select(t => t.Action).Should().Contain(EmailRatioBreakerAction.Suspended);
    }

    [Fact]
    public async Task AllowlistedTenantOfASuspendedPool_IsNotHeldByThePool_ButAnotherTenantIsAndItsOwnSuspensionHoldsIt()
    {
        // Arrange: the trial pool suspended by its tenants' bounces (40 in 1,000); the operator allowlisted trial-5.
        (IServiceProvider a, IServiceProvider b) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(a);
        foreach (EmailSendAttribution mail in trial.Take(40))
        {
            await BounceAsync(b, mail);
        }

        await a.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Tenant, "trial-5", "the operator's demo tenant");
        await RefreshAsync(a);

        // Act
        EmailSendDecision allowlisted = await CheckAsync(a, "trial-5", "allowlisted");
        EmailSendDecision other = await CheckAsync(a, "trial-6", "other");
        await a.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "trial-5", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        await RefreshAsync(a);
        EmailSendDecision allowlistedFlagged = await CheckAsync(a, "trial-5", "allowlisted-flagged");

        // Assert: the chosen trade-off (docs/deliverability.md): the allowlist skips the tenant's rules and with them its
        // pool's (cap and flags alike); the tenant's own suspension still holds it.
        PoolTrips.Select(t => t.Action).Should().Equal(EmailRatioBreakerAction.Reduced, EmailRatioBreakerAction.Suspended);
        allowlisted.IsAllowed.Should().BeTrue();
        allowlisted.Usage.ToArray().Should().NotContain(u => u.Partition == "pool:trial");
        other.Reason.Should().Be(EmailSendReason.Suspended);
        allowlistedFlagged.Reason.Should().Be(EmailSendReason.Suspended);
    }

    [Fact]
    public async Task AllowlistedTenantOfAHalfOpenPool_ItsBouncesCountInTheProbe_SoDoItsSends()
    {
        // Arrange: the trial pool suspended by its tenants' bounces; the operator allowlisted trial-5; the trip ends.
        (IServiceProvider a, IServiceProvider b) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(a);
        foreach (EmailSendAttribution mail in trial.Take(40))
        {
            await BounceAsync(b, mail);
        }

        await a.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Tenant, "trial-5", "the operator's demo tenant");
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(a);

        // Act: half-open, the other tenants send 100 clean mails, trial-5 sends 100 of which 3 bounce (1.5 % of 200).
        List<EmailSendAttribution> allowlisted = [];
        for (int i = 0; i < 100; i++)
        {
            (await CheckAsync(a, Tenant(10 + (i % 100)), "clean" + i.ToString(CultureInfo.InvariantCulture))).IsAllowed.Should().BeTrue();
            EmailSendDecision own = await CheckAsync(a, "trial-5", "own" + i.ToString(CultureInfo.InvariantCulture));
            own.IsAllowed.Should().BeTrue();
            allowlisted.Add(own.Attribution!);
        }

        foreach (EmailSendAttribution mail in allowlisted.Take(3))
        {
            await BounceAsync(b, mail);
        }

        await AdvanceAsync(HalfOpenFor);

        // Assert: the probe judged the 3 bounces over the 200 mails they came from, under the 2 % line: recovered, no trip again.
        PoolTrips.Should().HaveCount(2, "the reduced and suspended trips of the 40 bounces, and no trip again");
        lock (Recoveries)
        {
            Recoveries.Where(r => r.TenantPool is not null).Should().ContainSingle().Which.Should().BeEquivalentTo(
                new { TenantPool = "trial", ProbeSends = 200L, ProbeFailures = 3L }, o => o.ExcludingMissingMembers());
        }
    }

    [Fact]
    public async Task BouncesTaggedWithThePoolInAnotherCaseOrPadded_CountForThePool()
    {
        // Arrange: 1,000 trial sends; the bounces' echoed tags name the pool as "TRIAL", or padded as " trial " (pool
        // names are trimmed, as the tenant limit provider's are).
        (IServiceProvider a, IServiceProvider b) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(a);

        // Act
        foreach (EmailSendAttribution mail in trial.Take(20))
        {
            await BounceAsync(b, new EmailSendAttribution { SendId = mail.SendId, TenantId = mail.TenantId, TenantPool = trial.IndexOf(mail) % 2 == 0 ? "TRIAL" : " trial " });
        }

        // Assert: one pool, whatever the case or padding: 20 in 1,000 reduces it.
        PoolTrips.Select(t => (t.TenantPool, t.Action)).Should().Equal([("trial", EmailRatioBreakerAction.Reduced)]);
    }

    [Fact]
    public async Task BouncesTaggedWithAPoolThatIsNotConfigured_TripNoPool()
    {
        // Arrange: tags naming a pool the app has no rules for ("ghost", or a removed pool padded with spaces): 100
        // deliveries and 10 bounces each, as a customer who could write the tags the provider echoes would post them.
        (IServiceProvider a, IServiceProvider b) = Instances();
        IEmailGuardFeedback feedback = b.GetRequiredService<IEmailGuardFeedback>();
        foreach (string pool in (string[])["ghost", " gone "])
        {
            List<EmailSendAttribution> mails = [];
            for (int i = 0; i < 100; i++)
            {
                string id = pool.Trim() + i.ToString(CultureInfo.InvariantCulture);
                EmailSendAttribution tags = new() { SendId = id, TenantId = "trial-1", TenantPool = pool };
                mails.Add(tags);
                (await feedback.RecordAsync(new EmailFeedbackEvent
                {
                    Provider = "ses",
                    ProviderEventId = "delivered-" + id,
                    Recipient = id + "@example.com",
                    Kind = EmailFeedbackKind.Delivered,
                    Attribution = tags,
                })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
            }

            foreach (EmailSendAttribution mail in mails.Take(10))
            {
                await BounceAsync(b, mail);
            }
        }

        // Assert: no pool of that name holds anyone, so none is flagged, paged or logged as tripped.
        PoolTrips.Should().BeEmpty();
        IEmailGuardFlags flags = a.GetRequiredService<IEmailGuardFlags>();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "ghost")).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "gone")).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "trial")).Should().BeEmpty();
    }
}
