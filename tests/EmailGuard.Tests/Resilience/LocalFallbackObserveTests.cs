using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// What the local fallback remembers of the shared store's counts, raised without a lock by every admitted acquire:
/// the highest count of the current window, whatever order concurrent callers report in, and nothing of an ended one.
/// </summary>
public sealed class LocalFallbackObserveTests
{
    private static readonly RateLimitRule s_rule = RateLimitRule.PerMinute(1_000);

    [Fact]
    public async Task Observe_ManyCallersAtOnce_RemembersTheHighestCount()
    {
        // Arrange
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 6, 4, 0, 0, TimeSpan.Zero));
        LocalFallback fallback = Create(time);
        DateTimeOffset at = time.GetUtcNow();

        // Act: 8 callers report the counts 1 … 800 of one counter, interleaved, each in its own order.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(caller => Task.Run(() =>
        {
            for (int i = 99; i >= 0; i--)
            {
                long count = (i * 8) + caller + 1;
                fallback.Observe(ResilienceHarness.One("global", s_rule), [new RateLimitEntry(true, count, 1_000 - count, TimeSpan.Zero, default)], at);
            }
        })));

        // Assert: the store had counted 800 of 1,000, so the outage admits the last 200 here.
        (await AdmittedAsync(fallback, 300)).Should().Be(200);
    }

    [Fact]
    public async Task Observe_NextWindow_ForgetsTheEndedWindowsCount()
    {
        // Arrange
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 6, 4, 0, 0, TimeSpan.Zero));
        LocalFallback fallback = Create(time);
        fallback.Observe(ResilienceHarness.One("global", s_rule), [new RateLimitEntry(true, 900, 100, TimeSpan.Zero, default)], time.GetUtcNow());

        // Act: the next minute, the store reports 5, then 3 (an older answer arriving late).
        time.Advance(TimeSpan.FromMinutes(1));
        fallback.Observe(ResilienceHarness.One("global", s_rule), [new RateLimitEntry(true, 5, 995, TimeSpan.Zero, default)], time.GetUtcNow());
        fallback.Observe(ResilienceHarness.One("global", s_rule), [new RateLimitEntry(true, 3, 997, TimeSpan.Zero, default)], time.GetUtcNow());

        // Assert
        (await AdmittedAsync(fallback, 1_000)).Should().Be(995);
    }

    [Fact]
    public async Task Observe_ReducedRuleOfTheSameShape_StillRemembersTheCount()
    {
        // Arrange: a flag or an override reduces the rule between two observations of one counter.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 6, 4, 0, 0, TimeSpan.Zero));
        LocalFallback fallback = Create(time);
        RateLimitRule reduced = s_rule.WithLimit(500);
        fallback.Observe(ResilienceHarness.One("global", s_rule), [new RateLimitEntry(true, 100, 900, TimeSpan.Zero, default)], time.GetUtcNow());

        // Act
        fallback.Observe(ResilienceHarness.One("global", reduced), [new RateLimitEntry(true, 400, 100, TimeSpan.Zero, default)], time.GetUtcNow());

        // Assert: the full rule's share (1,000) minus the 400 counted.
        (await AdmittedAsync(fallback, 1_000)).Should().Be(600);
    }

    private static LocalFallback Create(FakeTimeProvider time)
        => new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time), instanceCount: 1, instanceIndex: null, capacity: 100, time, NullLogger.Instance);

    private static async Task<int> AdmittedAsync(LocalFallback fallback, int attempts)
    {
        int admitted = 0;
        for (int i = 0; i < attempts; i++)
        {
            admitted += (await fallback.AcquireAsync(ResilienceHarness.One("global", s_rule), new RateLimitEntry[1], default)).IsAllowed ? 1 : 0;
        }

        return admitted;
    }
}
