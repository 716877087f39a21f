using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

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
    private const int RecentSlots = 64;

    /// <summary>
    /// Counters found lately, each in the slot of its key string's identity: callers that keep their key strings (the
    /// send guard caches every party's) find the counter without hashing the key's characters. A slot holds one
    /// reference, written whole, so a reader never sees a counter paired with another key.
    /// </summary>
    private readonly InMemoryCounter?[] _recent = new InMemoryCounter?[RecentSlots];

    public ConcurrentDictionary<string, InMemoryCounter> Counters { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The counter of <paramref name="key"/>, as <see cref="Counters"/> holds it, looked up first by the identity of the
    /// key string among the counters found lately. A counter found that way may have been removed since, as one found
    /// in <see cref="Counters"/> may: the caller locks it and checks <see cref="InMemoryCounter.Removed"/> either way,
    /// and one it has seen removed is never answered from here again.
    /// </summary>
    public bool TryGetCounter(string key, [NotNullWhen(true)] out InMemoryCounter? counter)
    {
        ref InMemoryCounter? slot = ref _recent[RuntimeHelpers.GetHashCode(key) & (RecentSlots - 1)];
        InMemoryCounter? recent = Volatile.Read(ref slot);
        if (recent is not null && ReferenceEquals(recent.Key, key) && !recent.Removed)
        {
            counter = recent;
            return true;
        }

        if (Counters.TryGetValue(key, out counter))
        {
            Volatile.Write(ref slot, counter);
            return true;
        }

        return false;
    }

    /// <summary>The overflow count of keys that found the store full; null until the first one. Guarded by locking this shape.</summary>
    public InMemoryOverflowSketch? Sketch { get; set; }
}
