using System.Globalization;
using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// The feedback ratios show a tenant whose id reads as a pool's partition (<c>pool:trial</c>) escaped, as the guard's
/// denials and usage do: its counts, its breaker's trip and recovery, and the status never show it as the pool.
/// </summary>
public sealed class TenantPoolRatioPartitionTests
{
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(6);
    private static readonly TimeSpan HalfOpenFor = TimeSpan.FromHours(2);

    [Fact]
    public async Task TenantNamedLikeThePool_ItsRatiosTripAndRecoveryShowItEscaped_ThePoolsShowThePool()
    {
        // Arrange: the tenant 'pool:trial' is in the pool 'trial'; 2 of its 10 mails bounce (20 %, over the 4 % line).
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        List<EmailRatioBreakerArguments> trips = [];
        List<EmailRatioBreakerRecoveredArguments> recoveries = [];
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [RateLimitRule.PerHour(1_000)], Pool = "trial" });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1_000)),
            time: time,
            more: s =>
            {
                s.AddSingleton<ITenantLimitProvider>(provider);
                s.Configure<EmailRatioBreakerOptions>(o =>
                {
                    o.MinimumSends = 10;
                    o.TripFor = TripFor;
                    o.HalfOpenFor = HalfOpenFor;
                    o.NetworkBouncesToBan = 0;
                    o.OnTripped = args =>
                    {
                        lock (trips)
                        {
                            trips.Add(args);
                        }

                        return ValueTask.CompletedTask;
                    };
                    o.OnRecovered = args =>
                    {
                        lock (recoveries)
                        {
                            recoveries.Add(args);
                        }

                        return ValueTask.CompletedTask;
                    };
                });
            });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        List<EmailSendAttribution> sent = [];
        for (int i = 0; i < 10; i++)
        {
            EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = [string.Create(CultureInfo.InvariantCulture, $"r{i}@example.com")], TenantId = "pool:trial" });
            decision.IsAllowed.Should().BeTrue();
            sent.Add(decision.Attribution!);
        }

        // Act
        foreach (EmailSendAttribution mail in sent.Take(2))
        {
            (await sp.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = "bounce-" + mail.SendId,
                Recipient = "bounced-" + mail.SendId + "@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Permanent,
                Attribution = mail,
            })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "pool:trial" });
        EmailFeedbackCounts tenantCounts = await sp.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "pool:trial");
        IReadOnlyList<EmailGuardFlag> tenantFlags = await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "pool:trial");
        await RecoverAsync(sp, time);

        // Assert: the tenant is shown as tenant:pool:trial and flagged by its id; the pool as pool:trial.
        trips.Select(t => (t.Partition, t.TenantPool, t.Counts.Partition, t.Action)).Should().BeEquivalentTo(
        [
            ("tenant:pool:trial", (string?)null, "tenant:pool:trial", EmailRatioBreakerAction.Suspended),
            ("pool:trial", "trial", "pool:trial", EmailRatioBreakerAction.Suspended),
        ]);
        tenantFlags.Should().Contain(f => f.Suspend && f.Reason == EmailGuardFlagReasons.HighBounceRate, "the tenant's flags name its id");
        tenantCounts.Partition.Should().Be("tenant:pool:trial");
        status.Ratios.Select(r => (r.Counts.Dimension, r.Counts.Partition, r.BreakerState)).Should().Equal(
            (EmailGuardDimension.Global, (string?)null, EmailRatioBreakerState.Closed),
            (EmailGuardDimension.Tenant, "tenant:pool:trial", EmailRatioBreakerState.Tripped),
            (EmailGuardDimension.Tenant, "pool:trial", EmailRatioBreakerState.Tripped));
        lock (recoveries)
        {
            recoveries.Select(r => (r.Partition, r.TenantPool)).Should().BeEquivalentTo([("tenant:pool:trial", (string?)null), ("pool:trial", "trial")]);
        }
    }

    /// <summary>Ends the trips and their half-open phases (nothing sent meanwhile, nothing bounced): both recover.</summary>
    private static async Task RecoverAsync(ServiceProvider sp, FakeTimeProvider time)
    {
        RatioBreaker breakers = sp.GetRequiredService<EmailGuardFeedback>().Breakers!;
        time.Advance(TripFor + TimeSpan.FromSeconds(1));
        await breakers.WhenIdleAsync();
        time.Advance(HalfOpenFor);
        await breakers.WhenIdleAsync();
    }
}
