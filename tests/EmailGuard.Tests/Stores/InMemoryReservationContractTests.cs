using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>The reservation contract, run against the in-memory store.</summary>
public sealed class InMemoryReservationContractTests : ReservationContractTests
{
    protected override IRateLimitStore CreateStore(FakeTimeProvider timeProvider)
        => new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), timeProvider);
}
