using Microsoft.Extensions.Logging;

namespace EmailGuard;

internal sealed partial class InMemoryKeyValueStore
{
    /// <summary>One bounded pool of values, with its own lock.</summary>
    private sealed class Pool
    {
        // Each write also reclaims up to this many expired values, so memory drains between floods without a sweep.
        private const int SweepPerWrite = 2;

        // The queues may hold this many stale items beyond twice the live values before they are rebuilt.
        private const int QueueSlack = 32;

        private readonly Dictionary<string, Entry> _values = new(StringComparer.Ordinal);
        private readonly Lock _lock = new();
        private readonly bool _refuseWhenFull;
        private readonly ILogger _logger;
        private Queue<(string Key, long Order)> _byAge = new();
        private PriorityQueue<(string Key, long Order), long> _byExpiry = new();
        private long _next;
        private bool _fullLogged;

        public Pool(string name, int capacity, bool refuseWhenFull, ILogger logger)
        {
            Name = name;
            Capacity = capacity;
            _refuseWhenFull = refuseWhenFull;
            _logger = logger;
        }

        public string Name { get; }

        public int Capacity { get; }

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _values.Count;
                }
            }
        }

        /// <summary>The items in both queues, stale ones included; bounded by twice the values, plus a little.</summary>
        public int Queued
        {
            get
            {
                lock (_lock)
                {
                    return _byAge.Count + _byExpiry.Count;
                }
            }
        }

        public string? Read(string key, DateTimeOffset now)
        {
            lock (_lock)
            {
                if (!_values.TryGetValue(key, out Entry entry))
                {
                    return null;
                }

                if (entry.ExpiresAt <= now)
                {
                    _values.Remove(key);
                    return null;
                }

                return entry.Value;
            }
        }

        /// <summary>
        /// Removes the live value under <paramref name="key"/> if it is <paramref name="expectedValue"/>, under the lock
        /// every write takes, so no value written meanwhile is removed. Its queue items go stale, as a rewritten key's do.
        /// </summary>
        /// <returns>Whether it was removed.</returns>
        public bool Remove(string key, string expectedValue, DateTimeOffset now)
        {
            lock (_lock)
            {
                if (!_values.TryGetValue(key, out Entry entry))
                {
                    return false;
                }

                if (entry.ExpiresAt <= now)
                {
                    _values.Remove(key);
                    return false;
                }

                return string.Equals(entry.Value, expectedValue, StringComparison.Ordinal) && _values.Remove(key);
            }
        }

        /// <summary>
        /// Stores the value (unless <paramref name="onlyIfAbsent"/> and a live value is there, which is returned), making
        /// room first: expired values, then the oldest live one, or, in a pool that refuses when full, nothing.
        /// </summary>
        /// <exception cref="InvalidOperationException">The pool refuses when full, and all its values are live.</exception>
        public string? Write(string key, string value, DateTimeOffset now, DateTimeOffset expiresAt, bool onlyIfAbsent)
        {
            bool evictedLive = false;
            bool refused = false;
            bool firstTime = false;
            lock (_lock)
            {
                if (_values.TryGetValue(key, out Entry existing) && onlyIfAbsent && existing.ExpiresAt > now)
                {
                    return existing.Value;
                }

                Reclaim(now, SweepPerWrite);
                if (!_values.ContainsKey(key))
                {
                    while (_values.Count >= Capacity && Reclaim(now, 1) == 0)
                    {
                        // Nothing expired is left (the queue by expiry holds every value, the earliest first): the pool is full of live values.
                        firstTime |= !_fullLogged;
                        _fullLogged = true;
                        if (_refuseWhenFull)
                        {
                            refused = true;
                            break;
                        }

                        EvictOldest();
                        evictedLive = true;
                    }
                }

                if (!refused)
                {
                    long order = _next++;
                    _values[key] = new Entry(value, expiresAt, order);
                    _byAge.Enqueue((key, order));
                    _byExpiry.Enqueue((key, order), expiresAt.UtcTicks);
                    CompactQueues();
                }
            }

            if (refused)
            {
                if (firstTime)
                {
                    Log.PoolFullRefused(_logger, Name, Capacity);
                }

                throw new InvalidOperationException(
                    $"The in-memory key-value store's '{Name}' pool holds its maximum of {Capacity} live values and forgets none of them. Raise EmailGuard:Feedback:MaxInMemoryMappings, or use a shared store.");
            }

            if (evictedLive && firstTime)
            {
                Log.PoolFullEvicting(_logger, Name, Capacity);
            }

            return null;
        }

        /// <summary>Removes up to <paramref name="max"/> expired values, the earliest expired first.</summary>
        /// <returns>How many were removed.</returns>
        private int Reclaim(DateTimeOffset now, int max)
        {
            int removed = 0;
            while (removed < max && _byExpiry.TryPeek(out (string Key, long Order) item, out long expiresAt))
            {
                if (!IsCurrent(item))
                {
                    _byExpiry.Dequeue();
                    continue;
                }

                if (expiresAt > now.UtcTicks)
                {
                    break;
                }

                _byExpiry.Dequeue();
                _values.Remove(item.Key);
                removed++;
            }

            return removed;
        }

        private void EvictOldest()
        {
            while (_byAge.TryDequeue(out (string Key, long Order) item))
            {
                if (IsCurrent(item))
                {
                    _values.Remove(item.Key);
                    return;
                }
            }
        }

        /// <summary>
        /// Rebuilds a queue from the live values once its stale items (keys rewritten, read after expiry or evicted through
        /// the other queue) outnumber them: O(n) once per n writes at least.
        /// </summary>
        private void CompactQueues()
        {
            int bound = (2 * _values.Count) + QueueSlack;
            if (_byAge.Count > bound)
            {
                Queue<(string Key, long Order)> byAge = new(_values.Count);
                foreach ((string Key, long Order) item in _byAge)
                {
                    if (IsCurrent(item))
                    {
                        byAge.Enqueue(item);
                    }
                }

                _byAge = byAge;
            }

            if (_byExpiry.Count > bound)
            {
                _byExpiry = new PriorityQueue<(string Key, long Order), long>(
                    _values.Select(static pair => ((pair.Key, pair.Value.Order), pair.Value.ExpiresAt.UtcTicks)));
            }
        }

        private bool IsCurrent((string Key, long Order) item)
            => _values.TryGetValue(item.Key, out Entry entry) && entry.Order == item.Order;

        private readonly record struct Entry(string Value, DateTimeOffset ExpiresAt, long Order);
    }
}
