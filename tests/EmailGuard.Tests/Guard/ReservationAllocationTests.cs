using EmailGuard.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A reservation allocates nothing in memory, in the store and through the send guard, as a check does (issue 18's
/// benchmark, pinned): every call here waits for the provider's bucket, so it takes the reserve path, not a check's.
/// </summary>
public sealed class ReservationAllocationTests
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(5);

    /// <summary>A permit a microsecond, a burst of one: with the clock standing still, each reservation waits longer.</summary>
    private static readonly RateLimitRule Bucket = RateLimitRule.TokenBucket(1_000_000, TimeSpan.FromSeconds(1), 1);

    private static readonly RateLimitRule Window = RateLimitRule.PerHour(RateLimitRule.MaxLimit);

    [Fact]
    public void StoreReserve_InMemory_AllocatesNothing_AndEachCallWaits()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), time);
        RateLimitRequest[] requests = [new("provider", Bucket), new("account", Window)];
        RateLimitEntry[] results = new RateLimitEntry[2];
        Reserve(1_000);

        // The least of three rounds: a gen-2 collection elsewhere in the process may trim the pool once.
        long allocated = Allocations.LeastOf(() => Reserve(10_000));
        RateLimitDecision last = Reserve(1);

        allocated.Should().Be(0);
        (last.Timestamp - time.GetUtcNow()).Should().BePositive("every reservation waited for the bucket").And.BeLessThanOrEqualTo(MaxWait);
        results[1].Count.Should().Be(31_001);

        RateLimitDecision Reserve(int count)
        {
            RateLimitDecision decision = default;
            for (int i = 0; i < count; i++)
            {
                ValueTask<RateLimitDecision> pending = store.ReserveAsync(requests, MaxWait, results);
                decision = pending.IsCompletedSuccessfully ? pending.Result : throw new InvalidOperationException("The in-memory reservation went asynchronous.");
                if (!decision.IsAllowed)
                {
                    throw new InvalidOperationException(decision.ToString());
                }
            }

            return decision;
        }
    }

    [Fact]
    public void GuardReserve_InMemory_AllocatesNothing_AndKeepsADecisionTheCallerCanRefund()
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        using ServiceProvider sp = SendGuardTestServices.Build(time: time, configure: o =>
        {
            o.StateRefreshInterval = TimeSpan.FromHours(1);
            o.MaxReservationWait = MaxWait;
            o.AddSixPartyRules(Bucket, Window);
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail same = new() { To = ["customer@example.com"], Sender = "noreply@app.example", TenantId = "acme", UserId = "u1" };
        OutboundEmail[] rotating = [.. Enumerable.Range(0, 64).Select(i => new OutboundEmail
        {
            To = [$"customer{i}@example{i % 8}.com"], Sender = "noreply@app.example", TenantId = "acme", UserId = "u1",
        })];
        for (int i = 0; i < 2_000; i++)
        {
            ReserveNow(guard, rotating[i % rotating.Length]);
            ReserveNow(guard, same);
        }

        long sameMessage = Allocations.LeastOf(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                ReserveNow(guard, same);
            }
        });
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            ReserveNow(guard, rotating[i % rotating.Length]);
        }

        long perRotating = (GC.GetAllocatedBytesForCurrentThread() - before) / 10_000;
        EmailSendDecision kept = ReserveNow(guard, same);

        sameMessage.Should().Be(0, "a reservation of the same message again and again allocates nothing");
        perRotating.Should().BeLessThan(64, "rotating recipients keep their usage inline, as a check does");
        kept.SendAt.Should().BeAfter(time.GetUtcNow(), "every reservation waited for the bucket");
        kept.IsRefundable.Should().BeTrue("the decision is a value the caller keeps, and can cancel");
    }

    [Fact]
    public async Task GuardReserve_WithFeedback_InMemory_AllocatesNothing_CountsEverySendInTheReservation_AndACancelGivesItBack()
    {
        // Arrange: AddEmailGuard() registers feedback, so every admitted send is counted for the ratio breakers.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        using ServiceProvider sp = SendGuardTestServices.Build(time: time, configure: o =>
        {
            o.StateRefreshInterval = TimeSpan.FromHours(1);
            o.MaxReservationWait = MaxWait;
            o.Global.Add(Bucket);
            o.Tenant.Add(Window);
            o.Recipient.Add(Window);
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        IEmailFeedbackCounts counts = sp.GetRequiredService<IEmailFeedbackCounts>();
        OutboundEmail message = new() { To = ["customer@example.com"], Sender = "noreply@app.example", TenantId = "acme", UserId = "u1", Category = "share" };
        for (int i = 0; i < 2_000; i++)
        {
            ReserveNow(guard, message);
        }

        // Act
        long allocated = Allocations.LeastOf(() =>
        {
            for (int i = 0; i < 5_000; i++)
            {
                ReserveNow(guard, message);
            }
        });
        EmailSendDecision kept = ReserveNow(guard, message);
        long counted = (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;
        bool cancelled = await guard.RefundAsync(kept);

        // Assert
        allocated.Should().Be(0, "the send counters ride in the reservation's own store call, into pooled buffers");
        kept.SendAt.Should().BeAfter(time.GetUtcNow(), "every reservation waited for the bucket");
        counted.Should().Be(17_001);
        cancelled.Should().BeTrue();
        (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(17_000);
        (await counts.GetAsync(EmailGuardDimension.User, "u1")).Sends.Should().Be(17_000);
        (await counts.GetAsync(EmailGuardDimension.Category, "share")).Sends.Should().Be(17_000);
    }

    private static EmailSendDecision ReserveNow(IEmailSendGuard guard, OutboundEmail message)
    {
        ValueTask<EmailSendDecision> pending = guard.ReserveAsync(message);
        EmailSendDecision decision = pending.IsCompletedSuccessfully ? pending.Result : throw new InvalidOperationException("The in-memory reservation went asynchronous.");
        return decision.IsAllowed ? decision : throw new InvalidOperationException(decision.ToString());
    }
}
