using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// The counters of one rule shape, keyed by the partition key alone (string keys get the runtime's fast ordinal
/// hashing, which it switches to randomized hashing by itself if an attacker floods one bucket).
/// </summary>
/// <remarks>
/// A key without a counter is decided with the shape locked: only then is its counter created (so a denied acquire
/// creates none), and when the store is full it is counted in <see cref="Sketch"/> instead. Creating counters and
/// counting in the sketch under the same lock is what keeps a key's permits from being counted in one place and
/// then forgotten when it moves to the other.
/// </remarks>
internal sealed class InMemoryShape : InMemoryLock
{
    public ConcurrentDictionary<string, InMemoryCounter> Counters { get; } = new(StringComparer.Ordinal);

    /// <summary>The overflow count of keys that found the store full; null until the first one. Guarded by locking this shape.</summary>
    public InMemoryOverflowSketch? Sketch { get; set; }
}
