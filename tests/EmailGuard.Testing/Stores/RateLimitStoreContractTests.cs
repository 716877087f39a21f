using FluentAssertions;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// The behaviour every <see cref="IRateLimitStore"/> must have, run once per store. Expected values are computed by
/// hand from the formulas in DESIGN.md, so two stores that pass both agree with the specification, not just with each
/// other.
/// </summary>
/// <remarks>
/// Every test creates its own store through <see cref="CreateStore"/> and uses keys of its own, so a store that shares
/// state between instances (Redis) can run the suite without cleanup.
/// </remarks>
public abstract partial class RateLimitStoreContractTests
{
    /// <summary>
    /// The fake clock's start: deliberately not aligned to a second, minute, hour, day or segment, so a store that
    /// counts windows from its first request instead of from the epoch gets the wrong reset times.
    /// </summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    private static readonly DateTimeOffset StartOfMinute = new(2026, 11, 23, 10, 17, 0, TimeSpan.Zero);

    /// <summary>Creates a fresh, empty store whose clock is <paramref name="timeProvider"/>.</summary>
    /// <param name="timeProvider">The clock the store must read "now" from.</param>
    /// <returns>The store under test.</returns>
    protected abstract IRateLimitStore CreateStore(FakeTimeProvider timeProvider);

    // ---------------------------------------------------------------- helpers

    /// <summary>The count every witness key holds, see <see cref="CreateStoreWithWitnessAsync"/>.</summary>
    protected const long WitnessCount = 2;

    /// <summary>A key unique to this call, so tests never share counters even on a shared backend.</summary>
    /// <param name="name">A readable prefix.</param>
    /// <returns>The key.</returns>
    protected static string NewKey(string name) => $"{name}:{Guid.NewGuid():N}";

    /// <summary>Acquires on one key and returns the decision and its entry.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="cost">The cost.</param>
    /// <returns>The decision and the entry.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry Entry)> AcquireOneAsync(IRateLimitStore store, string key, RateLimitRule rule, long cost = 1)
    {
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new RateLimitRequest(key, rule, cost));
        return (decision, entries[0]);
    }

    /// <summary>Peeks at one key and returns the decision and its entry.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="cost">The cost.</param>
    /// <returns>The decision and the entry.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry Entry)> PeekOneAsync(IRateLimitStore store, string key, RateLimitRule rule, long cost)
    {
        (RateLimitDecision decision, RateLimitEntry[] entries) = await PeekAsync(store, new RateLimitRequest(key, rule, cost));
        return (decision, entries[0]);
    }

    /// <summary>Acquires and returns the decision with one entry per request.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests.</param>
    /// <returns>The decision and the entries.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)> AcquireAsync(IRateLimitStore store, params RateLimitRequest[] requests)
    {
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.AcquireAsync(requests, entries);
        return (decision, entries);
    }

    /// <summary>Peeks and returns the decision with one entry per request.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests.</param>
    /// <returns>The decision and the entries.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)> PeekAsync(IRateLimitStore store, params RateLimitRequest[] requests)
    {
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.PeekAsync(requests, entries);
        return (decision, entries);
    }

    /// <summary>A rule of either algorithm, so one test covers both: a sliding one gets <paramref name="slidingSegments"/> segments.</summary>
    /// <param name="algorithm">The algorithm.</param>
    /// <param name="limit">The limit.</param>
    /// <param name="window">The window.</param>
    /// <param name="slidingSegments">The segments of a sliding rule.</param>
    /// <returns>The rule.</returns>
    protected static RateLimitRule RuleOf(RateLimitAlgorithm algorithm, long limit, TimeSpan window, int slidingSegments = 6)
        => new(limit, window, algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? slidingSegments : 0);

    /// <summary>Refunds one key's acquire of <paramref name="cost"/> under <paramref name="decision"/>.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="cost">The cost that was acquired.</param>
    /// <param name="decision">The acquire's decision.</param>
    /// <returns>Whether the store applied the refund.</returns>
    protected static async Task<bool> RefundOneAsync(IRateLimitStore store, string key, RateLimitRule rule, long cost, RateLimitDecision decision)
        => await store.RefundAsync(new RateLimitRequest[] { new(key, rule, cost) }, decision);

    /// <summary>Reads a counter without moving it (a peek of cost 0).</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <returns>The permits counted now.</returns>
    protected static async Task<long> CountAsync(IRateLimitStore store, string key, RateLimitRule rule)
        => (await PeekOneAsync(store, key, rule, 0)).Entry.Count;

    private async Task<(IRateLimitStore Store, string Witness, RateLimitRule Rule)> CreateStoreWithWitnessAsync()
    {
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(100);
        string witness = NewKey("witness");
        (await AcquireOneAsync(store, witness, rule, WitnessCount)).Decision.IsAllowed.Should().BeTrue();
        return (store, witness, rule);
    }

    private static async Task AssertWitnessUntouchedAndStoreWorksAsync(IRateLimitStore store, string witness, RateLimitRule rule)
    {
        (await CountAsync(store, witness, rule)).Should().Be(WitnessCount, "a rejected call must not move any counter");
        (RateLimitDecision decision, RateLimitEntry entry) = await AcquireOneAsync(store, witness, rule);
        decision.IsAllowed.Should().BeTrue("the store must keep working after rejecting bad input");
        entry.Count.Should().Be(WitnessCount + 1);
    }
}
