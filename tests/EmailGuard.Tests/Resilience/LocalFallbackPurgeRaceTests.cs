using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// The purge at capacity against a caller that already holds the counter it found: what it counts on a counter the
/// purge has removed is lost, so local admits would never be written back (and the shared store would admit them again
/// after the outage), and a remembered count would not hold the local share down.
/// </summary>
public sealed class LocalFallbackPurgeRaceTests
{
    private static readonly RateLimitRule s_rule = RateLimitRule.PerMinute(10);

    [Fact]
    public async Task AcquireAsync_CounterPurgedBetweenLookupAndLock_LocalAdmitIsWrittenBack()
    {
        // Arrange
        Race race = new();

        // Act: the store is down; one permit is admitted locally, then the store answers again.
        RateLimitDecision decision = await race.Fallback.AcquireAsync(ResilienceHarness.One("victim", s_rule), new RateLimitEntry[1], default);
        race.Purged.Should().BeTrue("the purge must run inside this acquire");
        List<RateLimitRequest> writtenBack = [];
        await race.Fallback.WriteBackAsync(request =>
        {
            writtenBack.Add(request);
            return new((new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, race.Time.GetUtcNow()), new RateLimitEntry(true, request.Cost, 10, TimeSpan.Zero, default)));
        });

        // Assert
        decision.IsAllowed.Should().BeTrue();
        writtenBack.Should().ContainSingle().Which.Should().Be(new RateLimitRequest("victim", s_rule, 1));
        race.Fallback.HasPendingWriteBacks.Should().BeFalse();
    }

    [Fact]
    public async Task Observe_CounterPurgedBetweenLookupAndLock_CountStillHoldsTheLocalShareDown()
    {
        // Arrange
        Race race = new();

        // Act: the store reports 8 of 10 for the victim, then goes down.
        race.Fallback.Observe(ResilienceHarness.One("victim", s_rule), [new RateLimitEntry(true, 8, 10, TimeSpan.Zero, default)], race.Time.GetUtcNow());
        race.Purged.Should().BeTrue("the purge must run inside this observe");
        int admitted = 0;
        for (int i = 0; i < 10; i++)
        {
            admitted += (await race.Fallback.AcquireAsync(ResilienceHarness.One("victim", s_rule), new RateLimitEntry[1], default)).IsAllowed ? 1 : 0;
        }

        // Assert
        admitted.Should().Be(2);
    }

    /// <summary>
    /// Two counters remembered (capacity 2) from a window that has ended, with nothing left to write back; the next
    /// lookup that finds the victim's counter lets another caller remember a new counter first, which at capacity
    /// purges both ended ones.
    /// </summary>
    private sealed class Race
    {
        public Race()
        {
            Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 4, 0, 0, TimeSpan.Zero));
            Fallback = new LocalFallback(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), Time), instanceCount: 1, instanceIndex: null, capacity: 2, Time, NullLogger.Instance);
            Observe("victim", 3);
            Observe("filler", 3);
            Time.Advance(TimeSpan.FromMinutes(1));
            Fallback.CounterFound = () =>
            {
                if (!Purged)
                {
                    Purged = true;
                    Observe("other", 1);
                }
            };
        }

        public FakeTimeProvider Time { get; }

        public LocalFallback Fallback { get; }

        /// <summary>Whether the purge ran.</summary>
        public bool Purged { get; private set; }

        private void Observe(string key, long count)
            => Fallback.Observe(ResilienceHarness.One(key, s_rule), [new RateLimitEntry(true, count, 10, TimeSpan.Zero, default)], Time.GetUtcNow());
    }
}
