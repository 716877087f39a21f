using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>Reservations through the guard when the store fails, and the interface's default for older guards.</summary>
public sealed class SendGuardReservationTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    private static (SendGuardHarness Harness, SwitchableRateLimitStore Store) Create(StoreFailureMode failureMode)
    {
        FakeTimeProvider time = new(Start);
        SwitchableRateLimitStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time));
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero, FailureMode = failureMode };
        options.Global.Add(RateLimitRule.TokenBucket(1, TimeSpan.FromSeconds(1), 1));
        return (new SendGuardHarness(time, store, new InMemoryEmailGuardStateStore(time), options, null), store);
    }

    private static OutboundEmail Mail(string to) => new() { To = [to], TenantId = "acme" };

    [Fact]
    public async Task Reserve_SharedStoreAnswering_WaitsForTheBucket()
    {
        (SendGuardHarness h, _) = Create(StoreFailureMode.FailClosed);

        EmailSendDecision first = await h.Guard.ReserveAsync(Mail("a@example.com"));
        EmailSendDecision second = await h.Guard.ReserveAsync(Mail("b@example.com"));

        first.SendAt.Should().Be(Start);
        second.SendAt.Should().Be(Start.AddSeconds(1));
        second.Attribution.Should().NotBeNull("a reservation is an admission, charged like a check");
    }

    [Fact]
    public async Task Reserve_StoreDownFailClosed_DeniedAsUnavailable()
    {
        (SendGuardHarness h, SwitchableRateLimitStore store) = Create(StoreFailureMode.FailClosed);
        store.Down = true;

        EmailSendDecision decision = await h.Guard.ReserveAsync(Mail("a@example.com"));

        decision.Reason.Should().Be(EmailSendReason.StoreUnavailable);
        decision.SendAt.Should().BeNull();
    }

    [Fact]
    public async Task Reserve_StoreDownLocalFallback_ReservesNowOrDeniesNeverLater()
    {
        (SendGuardHarness h, SwitchableRateLimitStore store) = Create(StoreFailureMode.LocalFallback);
        store.Down = true;

        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 5; i++)
        {
            decisions.Add(await h.Guard.ReserveAsync(Mail($"r{i}@example.com")));
        }

        // The local counters know nothing of the slots the shared store promised, so they promise none ahead.
        decisions[0].SendAt.Should().Be(Start);
        decisions.Skip(1).Should().OnlyContain(d => d.Reason == EmailSendReason.LimitExceeded && d.SendAt == null);
    }

    [Fact]
    public async Task Reserve_StoreDownFailOpen_AdmittedUnguardedNow()
    {
        (SendGuardHarness h, SwitchableRateLimitStore store) = Create(StoreFailureMode.FailOpen);
        store.Down = true;

        EmailSendDecision decision = await h.Guard.ReserveAsync(Mail("a@example.com"));

        decision.Reason.Should().Be(EmailSendReason.AllowedUnguarded);
        decision.SendAt.Should().Be(Start);
        decision.IsRefundable.Should().BeFalse();
    }

    [Fact]
    public async Task Reserve_GuardWrittenBeforeReservations_ChecksNow()
    {
        IEmailSendGuard guard = new CheckOnlyGuard();

        EmailSendDecision decision = await guard.ReserveAsync(Mail("a@example.com"));

        decision.Reason.Should().Be(EmailSendReason.TooManyRecipients, "the default reservation is the guard's check");
    }

    [Fact]
    public void Decision_Default_HasNoSendTime()
        => default(EmailSendDecision).SendAt.Should().BeNull();

    /// <summary>A guard implemented before <see cref="IEmailSendGuard.ReserveAsync"/> existed.</summary>
    private sealed class CheckOnlyGuard : IEmailSendGuard
    {
        public ValueTask<EmailSendDecision> CheckAsync(OutboundEmail message, CancellationToken cancellationToken = default)
            => new(new EmailSendDecision(EmailSendReason.TooManyRecipients, EmailGuardDimension.Recipient, null, null, null, null, TimeSpan.MaxValue, Start, null));

        public ValueTask<EmailSendDecision> PeekAsync(OutboundEmail message, CancellationToken cancellationToken = default) => CheckAsync(message, cancellationToken);

        public ValueTask<bool> RefundAsync(EmailSendDecision decision, CancellationToken cancellationToken = default) => new(false);

        public ValueTask<EmailGuardStatus> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
