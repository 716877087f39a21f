using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>The store contract, run against the in-memory store.</summary>
public sealed class InMemoryRateLimitStoreContractTests : RateLimitStoreContractTests
{
    [Theory]
    [InlineData(11, 10)]
    [InlineData(12, 1)]
    [InlineData(13, 8)]
    public async Task Acquire_SlidingWindowManyRandomArrivals_NeverAdmitsMoreThanLimitInAnyWindow(int seed, int segments)
        => await RunSlidingGuaranteeAsync(seed, segments, operations: 200_000);

    protected override IRateLimitStore CreateStore(FakeTimeProvider timeProvider)
        => new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), timeProvider);
}
