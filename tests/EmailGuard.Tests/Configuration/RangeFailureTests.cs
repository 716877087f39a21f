using EmailGuard.Testing.Configuration;

namespace EmailGuard.Tests.Configuration;

/// <summary>Every [Range] of the core's options fails by its full path in the hand-written checks' words.</summary>
public sealed class RangeFailureTests
{
    [Fact]
    public void SendGuardOptions_EveryRange_ReadsLikeTheHandWrittenChecks()
        => RangeFailures.ShouldAllReadLikeTheHandWrittenChecks(new SendGuardOptionsDataValidator(), "EmailGuard:SendGuard").Should().BeGreaterThan(0);

    [Fact]
    public void InMemoryRateLimitStoreOptions_EveryRange_ReadsLikeTheHandWrittenChecks()
        => RangeFailures.ShouldAllReadLikeTheHandWrittenChecks(new InMemoryRateLimitStoreOptionsValidator(), "EmailGuard:InMemoryStore").Should().BeGreaterThan(0);

    [Fact]
    public void StoreResilienceOptions_EveryRange_ReadsLikeTheHandWrittenChecks()
        => RangeFailures.ShouldAllReadLikeTheHandWrittenChecks(new StoreResilienceOptionsValidator(), "EmailGuard:Resilience").Should().BeGreaterThan(0);
}
