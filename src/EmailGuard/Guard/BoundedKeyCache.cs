using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// A bounded, thread-safe cache of derived keys (normalized and hashed addresses, id keys, client-IP partitions) that
/// keeps what is in use when an attacker floods it with distinct values. The one cache type for such keys.
/// </summary>
/// <remarks>
/// <para>
/// Entries live in a <see cref="ConcurrentDictionary{TKey, TValue}"/> for lookups and in a fixed ring of
/// <c>capacity</c> slots for eviction, swept by a CLOCK hand. A hit reads the dictionary without locks and marks the entry
/// used. A miss probes a few slots from the hand for one to reuse: an empty slot, an entry never hit since it was
/// added (a one-off value, as a flood is made of), or an entry not hit for <c>protectFor</c>. An entry hit within
/// <c>protectFor</c> is never evicted. When the probed slots all hold protected entries the value is returned uncached,
/// so a miss costs a bounded amount of work, takes no lock over the whole cache, and never empties it.
/// </para>
/// <para>Values must be pure functions of their keys: two threads that miss on the same key at once may both compute it.</para>
/// </remarks>
internal sealed class BoundedKeyCache<TKey, TValue>
    where TKey : notnull
{
    /// <summary>The bound of the caches the send guard keeps per kind of key.</summary>
    public const int DefaultCapacity = 20_000;

    /// <summary>How many slots a miss probes for one to reuse before it gives up caching the value.</summary>
    internal const int MaxProbes = 16;

    private static readonly TimeSpan s_defaultProtectFor = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<TKey, Entry> _entries;
    private readonly Entry?[] _ring;
    private readonly TimeProvider _timeProvider;
    private readonly bool _systemClock;
    private readonly long _protectForMs;
    private int _hand = -1;

    /// <param name="capacity">The most entries kept.</param>
    /// <param name="comparer">Compares keys; the default comparer when null.</param>
    /// <param name="timeProvider">The clock that ages entries; the system clock when null.</param>
    /// <param name="protectFor">How long a hit protects an entry from eviction; 1 second when null.</param>
    public BoundedKeyCache(int capacity = DefaultCapacity, IEqualityComparer<TKey>? comparer = null, TimeProvider? timeProvider = null, TimeSpan? protectFor = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _entries = new ConcurrentDictionary<TKey, Entry>(comparer);
        _ring = new Entry?[capacity];
        _timeProvider = timeProvider ?? TimeProvider.System;
        _systemClock = ReferenceEquals(_timeProvider, TimeProvider.System);
        _protectForMs = (long)(protectFor ?? s_defaultProtectFor).TotalMilliseconds;
    }

    /// <summary>The entries held now; at most the capacity, plus the few being added at this moment.</summary>
    public int Count => _entries.Count;

    /// <summary>Looks a key up, and marks its entry used.</summary>
    public bool TryGetValue(TKey key, out TValue value)
    {
        if (_entries.TryGetValue(key, out Entry? entry))
        {
            // Written only when it changes, so hot entries read by many threads stay shared in their CPU caches.
            long now = NowMs();
            if (entry.LastHitMs != now)
            {
                entry.LastHitMs = now;
            }

            value = entry.Value;
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>Returns the cached value of <paramref name="key"/>, or computes it and tries to cache it.</summary>
    public TValue GetOrAdd<TState>(TKey key, TState state, Func<TKey, TState, TValue> factory)
    {
        if (TryGetValue(key, out TValue value))
        {
            return value;
        }

        value = factory(key, state);
        TryAdd(key, value);
        return value;
    }

    /// <summary>Caches a value unless the key is cached already or every probed slot is protected.</summary>
    /// <returns>Whether the value was cached.</returns>
    public bool TryAdd(TKey key, TValue value)
    {
        // Into the dictionary first, then into a slot: every entry in the dictionary is then either in a slot or being
        // placed by its own thread, so an eviction can always find what it must remove, and nothing stays behind.
        Entry entry = new(key, value);
        if (!_entries.TryAdd(key, entry))
        {
            return false;
        }

        long now = NowMs();
        for (int probe = 0; probe < MaxProbes; probe++)
        {
            int slot = (int)((uint)Interlocked.Increment(ref _hand) % (uint)_ring.Length);
            Entry? current = Volatile.Read(ref _ring[slot]);
            if (current is not null && current.LastHitMs != Entry.NeverHit && now - current.LastHitMs < _protectForMs)
            {
                continue;
            }

            if (Interlocked.CompareExchange(ref _ring[slot], entry, current) == current)
            {
                if (current is not null)
                {
                    _entries.TryRemove(new KeyValuePair<TKey, Entry>(current.Key, current));
                }

                return true;
            }
        }

        _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        return false;
    }

    /// <summary>Whether <paramref name="key"/> is cached, without marking it used.</summary>
    internal bool Contains(TKey key) => _entries.ContainsKey(key);

    private long NowMs()
        => _systemClock ? Environment.TickCount64 : _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private sealed class Entry(TKey key, TValue value)
    {
        public const long NeverHit = long.MinValue;

        public TKey Key { get; } = key;

        public TValue Value { get; } = value;

        /// <summary>When the entry was last found by a lookup; <see cref="NeverHit"/> while it was only added.</summary>
        public long LastHitMs { get; set; } = NeverHit;
    }
}
