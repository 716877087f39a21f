using System.ComponentModel.DataAnnotations;

namespace EmailGuard;

/// <summary>
/// Options of the in-memory store, the embedded default for a single instance and for tests.
/// </summary>
public sealed class InMemoryRateLimitStoreOptions
{
    /// <summary>
    /// Gets or sets the most counters the store tracks at once. When it is reached, expired counters are reclaimed at
    /// once; if none can be, acquires that need a <em>new</em> counter are denied until some expire. Existing counters
    /// are never evicted early, so a flood of new keys cannot reset anyone's limit.
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
