using System.ComponentModel.DataAnnotations;

namespace EmailGuard;

/// <summary>
/// Options of the in-memory store, the embedded default for a single instance and for tests.
/// </summary>
public sealed class InMemoryRateLimitStoreOptions
{
    /// <summary>
    /// Gets or sets the most counters the store tracks exactly at once. When it is reached, expired counters are
    /// reclaimed; if none can be, keys without a counter are counted in a fixed-size overflow sketch per rule shape,
    /// which can only over-count: they are still decided, never beyond their limits, though they may be denied early
    /// while the store is full. Existing counters are never evicted early, so a flood of new keys cannot reset anyone's
    /// limit. An overflow sketch takes 32 to 64 bytes × this value (three times that for a sliding window), once.
    /// </summary>
    /// <value>The default value is 100,000.</value>
    [Range(1, 100_000_000)]
    public int MaxTrackedKeys { get; set; } = 100_000;

    /// <summary>
    /// Gets or sets how often counters whose windows have passed are reclaimed.
    /// </summary>
    /// <value>The default value is 1 minute.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}
