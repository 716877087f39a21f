using System.Collections.Concurrent;
using EmailGuard;
using EmailGuard.Testing.Pacing;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// Reservations through the guard: every dimension in one reservation, denials that stay immediate, the configured
/// maximum wait, cancelling, and exact counts under concurrency.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    /// <summary>
    /// Whether the store can reserve a later slot for a plan whose keys lie in several places (cluster slots); a store
    /// that cannot reserves now or denies, which is checked instead.
    /// </summary>
    protected virtual bool ReservesAcrossSlots => true;

    [Fact]
    public async Task Reserve_ProviderRateOnly_SlotsFollowTheBucketAndNeverOverrunIt()
    {
        // Arrange: a provider allowing 10 a minute, a minute's worth at once. (Minutes, not seconds: on Redis a bucket's
        // key expires by the server's real clock, so a stall of a loaded runner must not outlast it.)
        SendGuardHarness h = Create(o => o.Global.Add(RateLimitRule.TokenBucket(10, TimeSpan.FromMinutes(1), 10)));
        DateTimeOffset now = h.Time.GetUtcNow();

        // Act: a queue hands over 40 mails at once.
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 40; i++)
        {
            decisions.Add(await h.Guard.ReserveAsync(Mail($"r{i}@example.com", tenant: "acme")));
        }

        // Assert: the burst now, then one every 6 s, in order; every decision refundable (a reservation can be cancelled).
        decisions.Should().OnlyContain(d => d.IsAllowed && d.Reason == EmailSendReason.Allowed && d.IsRefundable);
        decisions.Select(d => d.SendAt!.Value).Should().Equal(
            Enumerable.Range(0, 40).Select(i => i < 10 ? now : now.AddSeconds(6 * (i - 9))));
        PacingAssertions.WorstExcess(decisions.Select(d => d.SendAt!.Value), burst: 10, rate: 10, TimeSpan.FromMinutes(1)).Should().BeLessThanOrEqualTo(0);
    }

    [Fact]
    public async Task Reserve_TenantCapFull_DeniesAtOnceAndReservesNothingInAnyDimension()
    {
        // Arrange: the provider's bucket and a tenant cap of 3 an hour; the attack is to queue mail past the tenant cap
        // and have the reservation take the provider's slots anyway.
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromMinutes(1), 1));
            o.Tenant.Add(RateLimitRule.PerHour(3));
        });
        DateTimeOffset now = h.Time.GetUtcNow();

        // Act
        List<EmailSendDecision> attacker = [];
        for (int i = 0; i < 6; i++)
        {
            attacker.Add(await h.Guard.ReserveAsync(Mail($"r{i}@example.com", tenant: "trial")));
        }

        EmailSendDecision legit = await h.Guard.ReserveAsync(Mail("customer@example.com", tenant: "acme"));

        // Assert
        if (ReservesAcrossSlots)
        {
            attacker.Take(3).Select(d => d.SendAt).Should().Equal(now, now.AddMinutes(1), now.AddMinutes(2));
            attacker.Skip(3).Should().OnlyContain(d => d.Reason == EmailSendReason.LimitExceeded && d.Dimension == EmailGuardDimension.Tenant && d.SendAt == null);
            attacker[3].RetryAfter.Should().Be(TimeSpan.FromMinutes(55), "the tenant's hour ends at 11:00");
            legit.SendAt.Should().Be(now.AddMinutes(3), "the denied reservations took no provider slot");
            (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "trial" }, EmailGuardDimension.Tenant)).Should().Be(3);
        }
        else
        {
            // Across slots a reservation is an acquire now: the first goes, the rest wait for the bucket and are denied.
            attacker[0].SendAt.Should().Be(now);
            attacker.Skip(1).Should().OnlyContain(d => !d.IsAllowed);
            legit.IsAllowed.Should().BeFalse();
            (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "trial" }, EmailGuardDimension.Tenant)).Should().Be(1);
        }
    }

    [Fact]
    public async Task Reserve_BlocklistedOrSuspended_DeniedAtOnceWithoutTakingASlot()
    {
        // Arrange
        SendGuardHarness h = Create(o => o.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromMinutes(1), 1)));
        DateTimeOffset now = h.Time.GetUtcNow();
        await h.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "trap@example.com", "spam_trap");
        await h.Flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual);
        EmailSendDecision first = await h.Guard.ReserveAsync(Mail("a@example.com", tenant: "acme"));

        // Act
        EmailSendDecision blocked = await h.Guard.ReserveAsync(Mail("trap@example.com", tenant: "acme"));
        EmailSendDecision suspended = await h.Guard.ReserveAsync(Mail("b@example.com", tenant: "trial"));
        EmailSendDecision next = await h.Guard.ReserveAsync(Mail("c@example.com", tenant: "acme"));

        // Assert
        first.SendAt.Should().Be(now);
        blocked.Reason.Should().Be(EmailSendReason.Blocklisted);
        blocked.SendAt.Should().BeNull();
        suspended.Reason.Should().Be(EmailSendReason.Suspended);
        suspended.SendAt.Should().BeNull();
        next.SendAt.Should().Be(now.AddMinutes(1), "neither denial reserved the slot after the first");
    }

    [Fact]
    public async Task Reserve_BeyondTheConfiguredMaximumWait_DeniedWithTheRetryAfterOfACheck()
    {
        // Arrange: one a minute, and no reservation more than 2 minutes ahead.
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromMinutes(1), 1));
            o.MaxReservationWait = TimeSpan.FromMinutes(2);
        });
        DateTimeOffset now = h.Time.GetUtcNow();

        // Act
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 5; i++)
        {
            decisions.Add(await h.Guard.ReserveAsync(Mail($"r{i}@example.com")));
        }

        // Assert: the queue of slots is never longer than the maximum wait, whatever the caller asks.
        decisions.Take(3).Select(d => d.SendAt).Should().Equal(now, now.AddMinutes(1), now.AddMinutes(2));
        decisions[3].Reason.Should().Be(EmailSendReason.LimitExceeded);
        decisions[3].Dimension.Should().Be(EmailGuardDimension.Global);
        decisions[3].RetryAfter.Should().Be(TimeSpan.FromMinutes(3), "a check now would wait for the three slots already promised");
        decisions[4].IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task Reserve_ZeroMaximumWait_IsACheck()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromMinutes(1), 1));
            o.MaxReservationWait = TimeSpan.Zero;
        });

        (await h.Guard.ReserveAsync(Mail("a@example.com"))).SendAt.Should().Be(h.Time.GetUtcNow());
        EmailSendDecision second = await h.Guard.ReserveAsync(Mail("b@example.com"));

        second.Reason.Should().Be(EmailSendReason.LimitExceeded);
        second.RetryAfter.Should().Be(TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Reserve_CancelledByRefund_GivesTheSlotBackToTheNextMessage()
    {
        // Arrange
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromMinutes(1), 1));
            o.Tenant.Add(RateLimitRule.PerHour(100));
        });
        DateTimeOffset now = h.Time.GetUtcNow();
        EmailSendDecision first = await h.Guard.ReserveAsync(Mail("a@example.com", tenant: "acme"));
        EmailSendDecision second = await h.Guard.ReserveAsync(Mail("b@example.com", tenant: "acme"));

        // Act: the second is cancelled (the tenant deleted the mail while it waited), twice.
        bool cancelled = await h.Guard.RefundAsync(second);
        bool again = await h.Guard.RefundAsync(second);
        EmailSendDecision third = await h.Guard.ReserveAsync(Mail("c@example.com", tenant: "acme"));

        // Assert
        first.SendAt.Should().Be(now);
        if (ReservesAcrossSlots)
        {
            second.SendAt.Should().Be(now.AddMinutes(1));
            cancelled.Should().BeTrue();
            again.Should().BeFalse("a reservation is given back at most once");
            third.SendAt.Should().Be(now.AddMinutes(1), "the cancelled slot is free again");
            (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "acme" }, EmailGuardDimension.Tenant)).Should().Be(2);
        }
        else
        {
            second.IsAllowed.Should().BeFalse();
            cancelled.Should().BeFalse();
            third.IsAllowed.Should().BeFalse();
        }
    }

    [Fact]
    public async Task Reserve_ManyInstancesAndCallersAtOnce_ReserveExactlyTheCapAndNeverOverrunTheBucket()
    {
        // Arrange: 8 instances (on Redis, 8 multiplexers), 64 callers each; the tenant cap of 200 binds before the
        // provider's bucket can (10 now + 10 a minute for 30 minutes = 310 slots).
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(8, o =>
        {
            o.Global.Add(RateLimitRule.TokenBucket(10, TimeSpan.FromMinutes(1), 10));
            o.Tenant.Add(RateLimitRule.PerHour(200));
            o.MaxReservationWait = TimeSpan.FromMinutes(30);
        });
        ConcurrentBag<DateTimeOffset> slots = [];
        DateTimeOffset now = instances[0].Time.GetUtcNow();

        // Act
        await Parallel.ForEachAsync(Enumerable.Range(0, 8 * 64), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            EmailSendDecision decision = await instances[i % 8].Guard.ReserveAsync(Mail($"r{i}@example.com", tenant: "acme"), ct);
            if (decision.IsAllowed)
            {
                slots.Add(decision.SendAt!.Value);
            }
        });

        // Assert
        long tenantCount = await instances[0].CountAsync(new EmailGuardStatusQuery { TenantId = "acme" }, EmailGuardDimension.Tenant);
        if (ReservesAcrossSlots)
        {
            slots.Order().Should().Equal(
                Enumerable.Range(0, 200).Select(i => i < 10 ? now : now.AddSeconds(6 * (i - 9))),
                "the burst goes now and each later slot is promised once");
        }
        else
        {
            slots.Count.Should().BeInRange(1, 10);
            slots.Should().OnlyContain(t => t == now);
        }

        tenantCount.Should().Be(slots.Count, "a denied reservation leaves no tenant permit behind");
        PacingAssertions.WorstExcess(slots, burst: 10, rate: 10, TimeSpan.FromMinutes(1)).Should().BeLessThanOrEqualTo(0);
    }
}
