using EmailGuard.Testing.Configuration;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>Every [Range] of the endpoint options fails by its full path in the hand-written checks' words.</summary>
public sealed class EndpointRangeFailureTests
{
    [Fact]
    public void EmailGuardEndpointOptions_EveryRange_ReadsLikeTheHandWrittenChecks()
        => RangeFailures.ShouldAllReadLikeTheHandWrittenChecks(new EmailGuardEndpointOptionsValidator(), "EmailGuard:Endpoints").Should().BeGreaterThan(0);
}
