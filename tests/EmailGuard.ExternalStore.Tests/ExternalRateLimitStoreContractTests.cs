using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>The shared store contract, run against a store built on the public API alone.</summary>
public sealed class ExternalRateLimitStoreContractTests : RateLimitStoreContractTests
{
    [Theory]
    [InlineData(11, 10)]
    [InlineData(12, 1)]
    public async Task Acquire_SlidingWindowManyRandomArrivals_NeverAdmitsMoreThanLimitInAnyWindow(int seed, int segments)
        => await RunSlidingGuaranteeAsync(seed, segments, operations: 20_000);

    protected override IRateLimitStore CreateStore(FakeTimeProvider timeProvider) => new ExternalRateLimitStore(timeProvider);
}
