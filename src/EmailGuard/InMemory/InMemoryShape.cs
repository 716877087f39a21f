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
    /// <summary>
    /// How many counters a shape remembers by key identity, in pairs of slots. A check's keys (six for a typical message,
    /// usually of one shape) land in a slot by the identity hash of their key string, which differs from process to
    /// process: with 64 single slots two of six keys shared one about one process in five, evicted each other on every
    /// check and both fell back to hashing their characters, so the same build ran about 15% slower in some processes
    /// than in others. A key may sit in either slot of its pair, so it takes three keys of one pair to evict each other.
    /// </summary>
    internal const int RecentSlots = 256;

    /// <summary>
    /// Counters found lately, each in one of the two slots of its key string's identity: callers that keep their key
    /// strings (the send guard caches every party's) find the counter without hashing the key's characters. A slot holds
    /// one reference, written whole, so a reader never sees a counter paired with another key.
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
        // The hit in the first slot is all a hot key costs, so it stays small enough to be inlined into the acquire.
        int home = RuntimeHelpers.GetHashCode(key) & (RecentSlots - 1);
        InMemoryCounter? recent = Volatile.Read(ref _recent[home]);
        if (recent is not null && ReferenceEquals(recent.Key, key) && !recent.Removed)
        {
            counter = recent;
            return true;
        }

        return TryGetCounterElsewhere(key, home, recent, out counter);
    }

    /// <summary>The rest of <see cref="TryGetCounter"/>: the second slot of the key's pair, then the dictionary.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryGetCounterElsewhere(string key, int home, InMemoryCounter? first, [NotNullWhen(true)] out InMemoryCounter? counter)
    {
        ref InMemoryCounter? second = ref _recent[home ^ 1];
        InMemoryCounter? other = Volatile.Read(ref second);
        if (other is not null && ReferenceEquals(other.Key, key) && !other.Removed)
        {
            counter = other;
            return true;
        }

        if (Counters.TryGetValue(key, out counter))
        {
            // Into the first slot unless it holds a live counter and the second does not.
            bool firstTaken = first is not null && !first.Removed;
            bool secondTaken = other is not null && !other.Removed;
            Volatile.Write(ref firstTaken && !secondTaken ? ref second : ref _recent[home], counter);
            return true;
        }

        return false;
    }

    /// <summary>Whether the counter of <paramref name="key"/> is among those remembered by the identity of this very string (for tests).</summary>
    internal bool IsRemembered(string key)
    {
        int home = RuntimeHelpers.GetHashCode(key) & (RecentSlots - 1);
        return _recent[home]?.Key == (object)key || _recent[home ^ 1]?.Key == (object)key;
    }

    /// <summary>The overflow count of keys that found the store full; null until the first one. Guarded by locking this shape.</summary>
    public InMemoryOverflowSketch? Sketch { get; set; }
}
