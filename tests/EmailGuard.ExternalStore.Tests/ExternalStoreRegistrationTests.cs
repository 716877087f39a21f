using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>
/// The external stores registered through the public builder methods carry the send guard end to end: counters and
/// the blocklist live in them, and every call goes through the resilient store.
/// </summary>
public sealed class ExternalStoreRegistrationTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 10, 17, 23, TimeSpan.Zero);

    [Fact]
    public async Task SendGuard_WithExternalStores_CountsAndBlocksInThem()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(time);
        services.AddEmailGuard()
            .AddRateLimitStore<ExternalRateLimitStore>()
            .AddStateStore<ExternalStateStore>()
            .AddSendGuard(o => o.Recipient.Add(RateLimitRule.PerHour(2)));
        await using ServiceProvider provider = services.BuildServiceProvider(validateScopes: true);
        IEmailSendGuard guard = provider.GetRequiredService<IEmailSendGuard>();
        IEmailGuardLists lists = provider.GetRequiredService<IEmailGuardLists>();
        OutboundEmail toVictim = new() { Sender = "app@example.com", To = ["victim@example.org"] };

        // Act
        EmailSendDecision first = await guard.CheckAsync(toVictim);
        EmailSendDecision second = await guard.CheckAsync(toVictim);
        EmailSendDecision third = await guard.CheckAsync(toVictim);
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "blocked@example.org", "hard bounce");
        EmailSendDecision blocked = await guard.CheckAsync(new OutboundEmail { Sender = "app@example.com", To = ["blocked@example.org"] });

        // Assert
        provider.GetRequiredService<IRateLimitStore>().Should().BeOfType<ExternalRateLimitStore>();
        provider.GetRequiredService<IEmailGuardStateStore>().Should().BeOfType<ExternalStateStore>();
        first.Reason.Should().Be(EmailSendReason.Allowed);
        second.Reason.Should().Be(EmailSendReason.Allowed);
        third.Reason.Should().Be(EmailSendReason.LimitExceeded);
        third.Dimension.Should().Be(EmailGuardDimension.Recipient);
        blocked.Reason.Should().Be(EmailSendReason.Blocklisted);
        // Three checks acquire the message's counters, an admitted one with its send for the ratio breakers in the same
        // acquire. The blocklisted message is denied before any counter moves.
        provider.GetRequiredService<ExternalRateLimitStore>().Acquires.Should().Be(3, "the blocklisted message is denied before any counter moves");
        EmailGuardStateData state = await provider.GetRequiredService<ExternalStateStore>().LoadAsync(CancellationToken.None);
        state.ListEntries.Should().ContainSingle().Which.Value.Should().Be("blocked@example.org");
    }

    [Fact]
    public async Task ResilientStore_ExternalStoreThrows_FollowsTheFailureMode()
    {
        // Arrange
        ServiceCollection services = new();
        services.AddEmailGuard().AddRateLimitStore(_ => new FailingStore());
        await using ServiceProvider provider = services.BuildServiceProvider();
        IResilientRateLimitStore store = provider.GetRequiredService<IResilientRateLimitStore>();
        RateLimitRequest[] requests = [new("ip:203.0.113.9", RateLimitRule.PerMinute(5))];

        // Act
        RateLimitDecision open = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailOpen);
        RateLimitDecision closed = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailClosed);

        // Assert
        open.Status.Should().Be(RateLimitStatus.AllowedUnguarded);
        closed.Status.Should().Be(RateLimitStatus.StoreUnavailable);
    }

    [Fact]
    public void AddRateLimitStore_CalledTwice_RegistersOneStore()
    {
        // Arrange
        ServiceCollection services = new();
        IEmailGuardBuilder builder = services.AddEmailGuard();

        // Act
        builder.AddRateLimitStore<ExternalRateLimitStore>().AddRateLimitStore<ExternalRateLimitStore>();
        builder.AddStateStore<ExternalStateStore>().AddStateStore<ExternalStateStore>();

        // Assert
        services.Count(d => d.ServiceType == typeof(IRateLimitStore)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(ExternalRateLimitStore)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(IEmailGuardStateStore)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(ExternalStateStore)).Should().Be(1);
    }

    private sealed class FailingStore : IRateLimitStore
    {
        public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("The backend is down.");

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("The backend is down.");

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("The backend is down.");

        public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
            => throw new InvalidOperationException("The backend is down.");
    }
}
