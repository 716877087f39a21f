using EmailGuard.Tests.Stores;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// With feedback on, a reservation counts its send for the ratio breakers in its own store call, as a check does: one
/// call, counted at the decision's time even when the slot lies in a later segment of the send counters, and given
/// back by a refund.
/// </summary>
public sealed class SendGuardReservationFeedbackTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    [Fact]
    public async Task Reserve_WithFeedback_OneStoreCallCountsTheSendNow_AndRefundsGiveItBack()
    {
        // Arrange: one send per 10 s; the send counters' segments are 2.5 s, so the second slot lies four segments on.
        (EmailSendGuard guard, EmailGuardFeedback feedback, CountingStore store, FakeTimeProvider time) = Create();
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme" };

        // Act
        EmailSendDecision now = await guard.ReserveAsync(message);
        EmailSendDecision ahead = await guard.ReserveAsync(message);
        (int reserves, int acquires) = (store.Reserves, store.Acquires);
        long counted = await SendsAsync(feedback);
        bool refundedAhead = await guard.RefundAsync(ahead);
        long afterOneRefund = await SendsAsync(feedback);
        time.Advance(TimeSpan.FromSeconds(10));
        bool refundedNow = await guard.RefundAsync(now);
        long afterBoth = await SendsAsync(feedback);
        EmailSendDecision again = await guard.ReserveAsync(message);

        // Assert
        now.SendAt.Should().Be(Start);
        ahead.SendAt.Should().Be(Start.AddSeconds(10), "the send counters never move the reserved time");
        (reserves, acquires).Should().Be((2, 0), "the sends were counted in the reservations' own store calls");
        counted.Should().Be(2);
        refundedAhead.Should().BeTrue();
        afterOneRefund.Should().Be(1);
        refundedNow.Should().BeTrue();
        afterBoth.Should().Be(0, "a refund gives the count back to the segment of the decision, whenever it comes");
        again.SendAt.Should().Be(time.GetUtcNow());
        (await SendsAsync(feedback)).Should().Be(1);
    }

    [Fact]
    public async Task Reserve_WithFeedback_DeniedByTheTenantsCap_NamesTheTenant_AndCountsNothing()
    {
        // Arrange: the tenant may send one an hour; the bucket would gladly wait.
        (EmailSendGuard guard, EmailGuardFeedback feedback, _, _) = Create(tenantPerHour: 1);
        OutboundEmail message = new() { To = ["customer@example.com"], TenantId = "acme" };

        // Act
        EmailSendDecision first = await guard.ReserveAsync(message);
        EmailSendDecision denied = await guard.ReserveAsync(message);

        // Assert: the send counters ride in the call but are neither the binding denial nor the decision's usage.
        first.IsAllowed.Should().BeTrue();
        denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        denied.Dimension.Should().Be(EmailGuardDimension.Tenant);
        denied.Usage.ToArray().Select(u => u.Dimension).Should().Equal(EmailGuardDimension.Global, EmailGuardDimension.Tenant);
        first.Usage.ToArray().Select(u => u.Dimension).Should().Equal(EmailGuardDimension.Global, EmailGuardDimension.Tenant);
        (await SendsAsync(feedback)).Should().Be(1, "a denied reservation counts no send");
    }

    private static async Task<long> SendsAsync(EmailGuardFeedback feedback)
        => (await feedback.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;

    private static (EmailSendGuard Guard, EmailGuardFeedback Feedback, CountingStore Store, FakeTimeProvider Time) Create(long tenantPerHour = 100)
    {
        FakeTimeProvider time = new(Start);
        CountingStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time));
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.FromHours(1), MaxReservationWait = TimeSpan.FromMinutes(1) };
        options.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromSeconds(10), 1));
        options.Tenant.Add(RateLimitRule.PerHour(tenantPerHour));
        IOptions<SendGuardOptions> wrapped = Options.Create(options);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), time);
        GuardStateCache state = new(new InMemoryEmailGuardStateStore(time), wrapped, time);
        EmailGuardFeedback feedback = new(
            resilient,
            new ResilientKeyValueStore(new InMemoryKeyValueStore(1_000, time), new StoreResilienceOptions(), time),
            null,
            new EmailFeedbackOptions { CountWindow = TimeSpan.FromMinutes(1) },
            options,
            time);
        return (new EmailSendGuard(wrapped, resilient, state, time) { Sends = feedback }, feedback, store, time);
    }

    /// <summary>Counts the calls that commit (acquires and reservations) made to the store.</summary>
    private sealed class CountingStore(IRateLimitStore inner) : ForwardingRateLimitStore(inner)
    {
        public int Acquires;
        public int Reserves;

        public override ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Acquires);
            return Next.AcquireAsync(requests, results, cancellationToken);
        }

        public override ValueTask<RateLimitDecision> ReserveAsync(ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Reserves);
            return Next.ReserveAsync(requests, maxWait, results, cancellationToken);
        }
    }
}
