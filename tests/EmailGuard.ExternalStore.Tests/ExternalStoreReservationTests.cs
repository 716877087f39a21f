using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>
/// A store written before reservations existed gets <see cref="IRateLimitStore.ReserveAsync"/> from the interface:
/// a reservation for now or a denial, which never lets a rule be exceeded.
/// </summary>
public sealed class ExternalStoreReservationTests
{
    [Fact]
    public async Task ReserveAsync_StoreWithoutReservations_ReservesNowOrDenies()
    {
        // Arrange
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero));
        IRateLimitStore store = new ExternalRateLimitStore(time);
        RateLimitRequest[] request = [new("provider", RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 2))];

        // Act
        RateLimitDecision first = await store.ReserveAsync(request, TimeSpan.FromSeconds(5), Memory<RateLimitEntry>.Empty);
        RateLimitDecision second = await store.ReserveAsync(request, TimeSpan.FromSeconds(5), Memory<RateLimitEntry>.Empty);
        RateLimitDecision third = await store.ReserveAsync(request, TimeSpan.FromSeconds(5), Memory<RateLimitEntry>.Empty);
        Func<Task> negative = async () => await store.ReserveAsync(request, TimeSpan.FromMilliseconds(-1), Memory<RateLimitEntry>.Empty);

        // Assert
        first.Timestamp.Should().Be(time.GetUtcNow());
        second.IsAllowed.Should().BeTrue();
        third.IsAllowed.Should().BeFalse();
        third.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(100));
        await negative.Should().ThrowAsync<ArgumentOutOfRangeException>();
    }
}
