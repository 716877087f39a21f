using EmailGuard;
using EmailGuard.Testing.Pacing;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// The purchase-order incident replayed through a queue whose worker reserves each mail when it takes it: one trial
/// tenant floods 4,891 shares, ten legitimate tenants queue their own mail among them, and the account's provider allows
/// 100 an hour (Mailgun's hourly limit), at most one a second after a burst of 10 (slow enough that a Redis bucket key,
/// which expires by the server's real clock, outlives any stall of a loaded runner).
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    [Fact]
    public async Task PurchaseOrderQueue_AttackerFloodsAndTenLegitTenantsQueue_CapsHoldAndEveryLegitMailGoesInOrderAtMostAWindowLate()
    {
        // Arrange
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.TokenBucket(1, TimeSpan.FromSeconds(1), 10));
            o.Tenant.Add(RateLimitRule.PerHour(20));
            o.MaxReservationWait = TimeSpan.FromMinutes(1);
        });
        const string Attacker = "trial-4711";
        DateTimeOffset queuedAt = h.Time.GetUtcNow();
        List<(OutboundEmail Mail, int Sequence)> queue = [];
        int legit = 0;
        for (int i = 0; i < 4_891; i++)
        {
            queue.Add((Mail($"buyer{i % 300}@customer{i % 17}.example", tenant: Attacker, sender: "orders@app.example"), i));
            if (i % 40 == 0 && legit < 120)
            {
                // 12 mails per legit tenant: 120 in all, more than the hour's 100 even without the attacker.
                int tenant = legit % 10;
                queue.Add((Mail($"ap@supplier{legit}.example", tenant: $"legit-{tenant}", sender: $"orders@legit{tenant}.example"), legit));
                legit++;
            }
        }

        // Act: the worker takes mail in order. Allowed: it waits for the slot and sends. The provider's budget is
        // spent (a global rule denied): it waits the retry-after, once, and asks again, holding its place. Anything
        // else (a tenant over its cap): the mail fails instead of being sent.
        List<(string Tenant, int Sequence, DateTimeOffset At)> sent = [];
        int failed = 0;
        foreach ((OutboundEmail mail, int sequence) in queue)
        {
            while (true)
            {
                EmailSendDecision decision = await h.Guard.ReserveAsync(mail);
                if (decision.SendAt is { } sendAt)
                {
                    if (sendAt > h.Time.GetUtcNow())
                    {
                        h.Time.Advance(sendAt - h.Time.GetUtcNow());
                    }

                    sent.Add((mail.TenantId!, sequence, h.Time.GetUtcNow()));
                    break;
                }

                if (decision is { Reason: EmailSendReason.LimitExceeded, Dimension: EmailGuardDimension.Global })
                {
                    decision.RetryAfter.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(TimeSpan.FromHours(1));
                    h.Time.Advance(decision.RetryAfter);
                    continue;
                }

                decision.Dimension.Should().Be(EmailGuardDimension.Tenant);
                mail.TenantId.Should().Be(Attacker, "only the attacker exceeds its cap");
                failed++;
                break;
            }
        }

        // Assert
        static long Hour(DateTimeOffset at) => at.ToUnixTimeSeconds() / 3600;
        sent.GroupBy(s => Hour(s.At)).Should().OnlyContain(g => g.Count() <= 100, "the provider's hourly limit is never exceeded");
        sent.Where(s => s.Tenant == Attacker).GroupBy(s => Hour(s.At)).Should().OnlyContain(g => g.Count() <= 20, "the attacker stays within its cap");
        List<(string Tenant, int Sequence, DateTimeOffset At)> legitSent = [.. sent.Where(s => s.Tenant != Attacker)];
        legitSent.Select(s => s.Sequence).Should().Equal(Enumerable.Range(0, 120), "every legit mail is sent, in the order it was queued");
        long firstHour = Hour(queuedAt);
        legitSent.Where(s => Hour(s.At) > firstHour).Should().NotBeEmpty("the hour could not hold all the legit mail");
        legitSent.Should().OnlyContain(s => s.At - queuedAt <= TimeSpan.FromHours(1), "no legit mail is more than one window late");
        sent.Count(s => s.Tenant == Attacker).Should().Be(4_891 - failed);
        failed.Should().BeGreaterThan(4_800, "the attacker's flood fails instead of being sent");
        PacingAssertions.WorstExcess(sent.Select(s => s.At), burst: 10, rate: 1, TimeSpan.FromSeconds(1)).Should().BeLessThanOrEqualTo(0);
    }
}
