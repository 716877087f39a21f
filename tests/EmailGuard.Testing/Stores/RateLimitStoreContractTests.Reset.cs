using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Resets clear one counter.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Reset_OneKeyAndShape_ClearsOnlyThatCounter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule hourly = RateLimitRule.PerHour(10);
        RateLimitRule daily = RateLimitRule.PerDay(10);
        RateLimitRule sliding = RateLimitRule.SlidingWindow(10, TimeSpan.FromHours(1), 6);
        string key = NewKey("reset");
        string other = NewKey("reset-other");
        await AcquireAsync(store, new(key, hourly, 4), new(key, daily, 5), new(key, sliding, 6), new(other, hourly, 7));

        // Act: a rule of the same shape with another limit names the same counter.
        await store.ResetAsync(key, hourly.WithLimit(99));

        // Assert
        (await CountAsync(store, key, hourly)).Should().Be(0);
        (await CountAsync(store, key, daily)).Should().Be(5);
        (await CountAsync(store, key, sliding)).Should().Be(6);
        (await CountAsync(store, other, hourly)).Should().Be(7);
        (await AcquireOneAsync(store, key, hourly, 10)).Decision.IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Reset_UnknownKey_DoesNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(10);

        // Act
        Func<Task> act = async () => await store.ResetAsync(NewKey("never-used"), rule);

        // Assert
        await act.Should().NotThrowAsync();
    }
}
