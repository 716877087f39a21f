using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// A bounded, thread-safe cache of derived keys (normalized and hashed addresses, id keys, client-IP partitions) that
/// keeps what is in use when an attacker floods it with distinct values. The one cache type for such keys.
/// </summary>
/// <remarks>
/// <para>
/// Lookups read one <see cref="ConcurrentDictionary{TKey, TValue}"/> without locks, and mark the entry hit. Eviction is
/// segmented, in the manner of S3-FIFO: the capacity is split into shards by key hash, each with its own small lock
/// (taken by misses only, never by hits, never for the whole cache), a small probation ring and a main ring.
/// </para>
/// <list type="bullet">
/// <item>Until the main ring has filled once, new values go straight into it. After that they enter probation.</item>
/// <item>When the probation hand reaches an entry, it is evicted if it was never hit (a one-off value, as a flood is
/// made of); if it was hit, it moves to the main ring.</item>
/// <item>The main ring makes room with a CLOCK hand: an entry hit within <c>protectFor</c> is skipped, one hit before
/// loses one of its up to three hit credits, one with none left is evicted.</item>
/// </list>
/// <para>
/// So a flood of distinct values only churns probation and never reaches an entry that was hit; an entry hit within
/// <c>protectFor</c> is never evicted at all. A miss probes at most a few slots; when all hold protected entries the
/// value is returned uncached. Nothing ever empties the cache.
/// </para>
/// <para>Values must be pure functions of their keys: two threads that miss on the same key at once may both compute it.</para>
/// </remarks>
internal sealed class BoundedKeyCache<TKey, TValue>
    where TKey : notnull
{
    /// <summary>The bound of the caches the send guard keeps per kind of key.</summary>
    public const int DefaultCapacity = 20_000;

    /// <summary>How many slots a miss probes in a ring before it gives up.</summary>
    internal const int MaxProbes = 16;

    private const int MaxShards = 16;
    private const int MinShardCapacity = 64;
    private const int MaxCredits = 3;

    private static readonly TimeSpan s_defaultProtectFor = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<TKey, Entry> _entries;
    private readonly IEqualityComparer<TKey> _comparer;
    private readonly Shard[] _shards;
    private readonly TimeProvider _timeProvider;
    private readonly bool _systemClock;
    private readonly long _protectForMs;

    /// <param name="capacity">The most entries kept.</param>
    /// <param name="comparer">Compares keys; the default comparer when null.</param>
    /// <param name="timeProvider">The clock that ages entries; the system clock when null.</param>
    /// <param name="protectFor">How long a hit protects an entry from eviction; 1 second when null.</param>
    public BoundedKeyCache(int capacity = DefaultCapacity, IEqualityComparer<TKey>? comparer = null, TimeProvider? timeProvider = null, TimeSpan? protectFor = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _comparer = comparer ?? EqualityComparer<TKey>.Default;
        _entries = new ConcurrentDictionary<TKey, Entry>(_comparer);
        int shards = Math.Clamp(capacity / MinShardCapacity, 1, MaxShards);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++)
        {
            _shards[i] = new Shard((capacity / shards) + (i < capacity % shards ? 1 : 0));
        }

        _timeProvider = timeProvider ?? TimeProvider.System;
        _systemClock = ReferenceEquals(_timeProvider, TimeProvider.System);
        _protectForMs = (long)(protectFor ?? s_defaultProtectFor).TotalMilliseconds;
    }

    /// <summary>The entries held now; never more than the capacity.</summary>
    public int Count => _entries.Count;

    /// <summary>Looks a key up, and marks its entry hit.</summary>
    public bool TryGetValue(TKey key, out TValue value) => TryGetValue(key, NowMs(), out value);

    /// <summary>
    /// Looks a key up, and marks its entry hit at <paramref name="nowMs"/>: a reading of <see cref="NowMs"/> taken
    /// moments ago, for a caller that looks up several keys at once and reads the clock once for all of them.
    /// </summary>
    public bool TryGetValue(TKey key, long nowMs, out TValue value)
    {
        if (_entries.TryGetValue(key, out Entry? entry))
        {
            value = Hit(entry, nowMs);
            return true;
        }

        value = default!;
        return false;
    }

    /// <summary>
    /// As <see cref="TryGetValue(TKey, long, out TValue)"/>, first by the identity of <paramref name="key"/>:
    /// <paramref name="remembered"/> is the entry this caller found last (a slot of its own, never shared between
    /// threads), and when it was cached for this very key object the key is neither hashed nor compared. An entry
    /// found in the dictionary is remembered in the slot.
    /// </summary>
    /// <remarks>
    /// A remembered entry is marked hit as any lookup marks it, so eviction sees the same hits. It may have been evicted
    /// since: it still holds its key's value (values are pure functions of their keys), and marking it changes nothing.
    /// A slot must only ever be given to one cache, whose entries it holds.
    /// </remarks>
    public bool TryGetValue(TKey key, long nowMs, ref Entry? remembered, out TValue value)
    {
        Entry? entry = remembered;
        if (typeof(TKey).IsValueType || entry is null || !ReferenceEquals(entry.Key, key))
        {
            if (!_entries.TryGetValue(key, out entry))
            {
                value = default!;
                return false;
            }

            remembered = entry;
        }

        value = Hit(entry, nowMs);
        return true;
    }

    /// <summary>Marks an entry hit at <paramref name="nowMs"/> and returns its value.</summary>
    private static TValue Hit(Entry entry, long nowMs)
    {
        // Written only when they change, so hot entries read by many threads stay shared in their CPU caches.
        if (entry.LastHitMs != nowMs)
        {
            entry.LastHitMs = nowMs;
        }

        if (entry.Credits < MaxCredits)
        {
            entry.Credits++;
        }

        return entry.Value;
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

    /// <summary>Caches a value unless the key is cached already or the probed slots all hold protected entries.</summary>
    /// <returns>Whether the value was cached.</returns>
    public bool TryAdd(TKey key, TValue value)
    {
        Shard shard = _shards.Length == 1 ? _shards[0] : _shards[(int)((uint)_comparer.GetHashCode(key) % (uint)_shards.Length)];
        long now = NowMs();
        lock (shard)
        {
            // The dictionary changes only under the lock of the shard that owns the key, so it holds exactly the
            // entries of the rings.
            Entry entry = new(key, value);
            if (!_entries.TryAdd(key, entry))
            {
                return false;
            }

            if (shard.MainFilled < shard.Main.Length)
            {
                shard.Main[shard.MainFilled++] = entry;
                return true;
            }

            for (int probe = 0; probe < MaxProbes; probe++)
            {
                int slot = shard.NextProbation();
                Entry? old = shard.Probation[slot];
                if (old is not null && old.LastHitMs != Entry.NeverHit && !Promote(shard, old, now))
                {
                    if (IsProtected(old, now))
                    {
                        continue;
                    }

                    Evict(old);
                }
                else if (old is not null && old.LastHitMs == Entry.NeverHit)
                {
                    Evict(old);
                }

                shard.Probation[slot] = entry;
                return true;
            }

            _entries.TryRemove(new KeyValuePair<TKey, Entry>(key, entry));
            return false;
        }
    }

    /// <summary>Whether <paramref name="key"/> is cached, without marking it hit.</summary>
    internal bool Contains(TKey key) => _entries.ContainsKey(key);

    /// <summary>Moves an entry that was hit in probation into the main ring, making room there with the CLOCK hand.</summary>
    private bool Promote(Shard shard, Entry entry, long now)
    {
        for (int probe = 0; probe < MaxProbes; probe++)
        {
            int slot = shard.NextMain();
            Entry current = shard.Main[slot]!;
            if (IsProtected(current, now))
            {
                continue;
            }

            if (current.Credits > 0)
            {
                current.Credits--;
                continue;
            }

            Evict(current);
            shard.Main[slot] = entry;
            return true;
        }

        return false;
    }

    private bool IsProtected(Entry entry, long now)
        => entry.LastHitMs != Entry.NeverHit && now - entry.LastHitMs < _protectForMs;

    private void Evict(Entry entry) => _entries.TryRemove(new KeyValuePair<TKey, Entry>(entry.Key, entry));

    /// <summary>The cache's clock in milliseconds: <see cref="Environment.TickCount64"/> on the system clock.</summary>
    public long NowMs()
        => _systemClock ? Environment.TickCount64 : _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>A cached value with its key and what eviction reads of it; handed out only as a caller's remembered slot.</summary>
    internal sealed class Entry(TKey key, TValue value)
    {
        public const long NeverHit = long.MinValue;

        public TKey Key { get; } = key;

        public TValue Value { get; } = value;

        /// <summary>When the entry was last found by a lookup; <see cref="NeverHit"/> while it was only added.</summary>
        public long LastHitMs { get; set; } = NeverHit;

        /// <summary>Hits not yet spent against the main ring's hand, up to three.</summary>
        public int Credits { get; set; }
    }

    /// <summary>One shard's rings; every field is guarded by locking the shard.</summary>
    private sealed class Shard
    {
        private int _probationHand = -1;
        private int _mainHand = -1;

        public Shard(int capacity)
        {
            int probation = Math.Max(1, capacity / 10);
            Probation = new Entry?[probation];
            Main = new Entry?[capacity - probation];
        }

        public Entry?[] Probation { get; }

        public Entry?[] Main { get; }

        public int MainFilled { get; set; }

        public int NextProbation() => _probationHand = _probationHand + 1 == Probation.Length ? 0 : _probationHand + 1;

        public int NextMain() => _mainHand = _mainHand + 1 == Main.Length ? 0 : _mainHand + 1;
    }
}
