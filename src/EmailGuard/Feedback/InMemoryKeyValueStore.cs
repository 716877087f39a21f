namespace EmailGuard;

/// <summary>
/// The embedded <see cref="IEmailGuardKeyValueStore"/>: one instance only, bounded. When full, expired values go
/// first, then the oldest, so an attacker who floods feedback with message ids cannot exhaust memory.
/// </summary>
internal sealed class InMemoryKeyValueStore : IEmailGuardKeyValueStore
{
    private readonly Dictionary<string, (string Value, DateTimeOffset ExpiresAt, long Order)> _values = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _order = new();
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private long _next;

    public InMemoryKeyValueStore(int capacity, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _timeProvider = timeProvider;
    }

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

    public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            long order = _next++;
            _values[key] = (value, now + timeToLive, order);
            _order.Enqueue(key, order);
            while (_values.Count > Capacity || _order.Count > 2 * Capacity)
            {
                EvictOldest();
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (_values.TryGetValue(key, out (string Value, DateTimeOffset ExpiresAt, long Order) entry) && entry.ExpiresAt > now)
            {
                return new(entry.Value);
            }

            long order = _next++;
            _values[key] = (value, now + timeToLive, order);
            _order.Enqueue(key, order);
            while (_values.Count > Capacity || _order.Count > 2 * Capacity)
            {
                EvictOldest();
            }
        }

        return new((string?)null);
    }

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateKey(key);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (!_values.TryGetValue(key, out (string Value, DateTimeOffset ExpiresAt, long Order) entry))
            {
                return new((string?)null);
            }

            if (entry.ExpiresAt <= now)
            {
                _values.Remove(key);
                return new((string?)null);
            }

            return new(entry.Value);
        }
    }

    private void EvictOldest()
    {
        // The queue holds one item per write; an item whose key was rewritten later (a newer order) is stale and skipped.
        while (_order.TryDequeue(out string? key, out long order))
        {
            if (_values.TryGetValue(key, out (string Value, DateTimeOffset ExpiresAt, long Order) entry) && entry.Order == order)
            {
                _values.Remove(key);
                return;
            }

            if (_values.Count <= Capacity && _order.Count <= 2 * Capacity)
            {
                return;
            }
        }
    }
}
