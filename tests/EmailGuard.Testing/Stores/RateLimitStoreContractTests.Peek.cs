using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Peeks move nothing.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Peek_AnyCost_ConsumesNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(3);
        string key = NewKey("peek");
        await AcquireOneAsync(store, key, rule, 2);

        // Act
        (RateLimitDecision fits, RateLimitEntry fitsEntry) = await PeekOneAsync(store, key, rule, 1);
        (RateLimitDecision fitsAgain, _) = await PeekOneAsync(store, key, rule, 1);
        (RateLimitDecision tooMuch, RateLimitEntry tooMuchEntry) = await PeekOneAsync(store, key, rule, 2);
        (RateLimitDecision tooMuchMulti, RateLimitEntry[] multiEntries) = await PeekAsync(store, new(key, rule, 1), new(key, rule, 1));

        // Assert
        fits.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
        fitsEntry.Should().Be(new RateLimitEntry(true, 2, 3, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        fitsAgain.IsAllowed.Should().BeTrue();
        tooMuch.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, StartOfMinute.AddMinutes(1) - Start, Start));
        tooMuchEntry.Should().Be(new RateLimitEntry(false, 2, 3, StartOfMinute.AddMinutes(1) - Start, StartOfMinute.AddMinutes(1)));
        tooMuchMulti.DeniedIndex.Should().Be(1);
        multiEntries[1].Count.Should().Be(3);
        (await CountAsync(store, key, rule)).Should().Be(2);
    }
}
