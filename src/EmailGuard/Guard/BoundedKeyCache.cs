using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// A bounded, thread-safe cache of derived keys (normalized and hashed addresses, id keys, client-IP partitions) that
/// keeps what is in use when an attacker floods it with distinct values. The one cache type for such keys.
/// </summary>
/// <remarks>
/// <para>
/// Entries live in a <see cref="ConcurrentDictionary{TKey, TValue}"/> for lookups and in a fixed ring of
/// <c>capacity</c> slots for eviction, swept by a CLOCK hand. A hit reads the dictionary without locks and stamps the
/// entry with the time. A miss probes up to 16 slots from the hand for one to reuse: an empty slot or an entry never
/// hit since it was added (a one-off value, as a flood is made of) at once, else the probed entry hit longest ago,
/// if not within <c>protectFor</c>. So flood values replace each other, an entry that has been hit gives way only when
/// no one-off value is near the hand, and an entry hit within <c>protectFor</c> is never evicted. When the probed
/// slots all hold protected entries the value is returned uncached: a miss costs a bounded amount of work, takes no
/// lock over the whole cache, and never empties it.
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

    /// <summary>How many times a miss looks for a slot when concurrent misses take the ones it found.</summary>
    private const int MaxAttempts = 2;

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
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            (int slot, Entry? victim) = FindVictim(now);
            if (slot < 0)
            {
                break;
            }

            if (Interlocked.CompareExchange(ref _ring[slot], entry, victim) == victim)
            {
                if (victim is not null)
                {
                    _entries.TryRemove(new KeyValuePair<TKey, Entry>(victim.Key, victim));
                }

                return true;
            }
        }

        _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
        return false;
    }

    /// <summary>Whether <paramref name="key"/> is cached, without marking it used.</summary>
    internal bool Contains(TKey key) => _entries.ContainsKey(key);

    /// <summary>
    /// The slot to reuse among the next <see cref="MaxProbes"/> from the hand: the first empty one or the first whose
    /// entry was never hit, else the one hit longest ago if that was at least <c>protectFor</c> ago. A flood is made of
    /// values that are never hit, so they replace each other and leave entries in use alone. -1 when every probed
    /// entry is protected.
    /// </summary>
    private (int Slot, Entry? Victim) FindVictim(long now)
    {
        int bestSlot = -1;
        Entry? best = null;
        long bestLastHit = long.MaxValue;
        for (int probe = 0; probe < MaxProbes; probe++)
        {
            int slot = (int)((uint)Interlocked.Increment(ref _hand) % (uint)_ring.Length);
            Entry? current = Volatile.Read(ref _ring[slot]);
            long lastHit = current?.LastHitMs ?? Entry.NeverHit;
            if (lastHit == Entry.NeverHit)
            {
                return (slot, current);
            }

            if (now - lastHit >= _protectForMs && lastHit < bestLastHit)
            {
                bestSlot = slot;
                best = current;
                bestLastHit = lastHit;
            }
        }

        return (bestSlot, best);
    }

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
