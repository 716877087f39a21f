using System.Collections.Concurrent;

namespace EmailGuard.Redis;

/// <summary>
/// The Redis names of recently used counters, so that an acquire does not hash and build the name of a counter it
/// named a moment ago: a guard check names six, and its global, tenant, sender and user counters recur on every check.
/// </summary>
/// <remarks>
/// A name is cached with its window index (a client-clock fixed window's changes with its window) and built again when
/// the index differs. The cache holds at most <see cref="Capacity"/> names (plus one per caller racing with a clear);
/// when full it starts over, so that many distinct keys (a flood of new recipients) cost a rebuild now and then, never
/// unbounded memory.
/// </remarks>
internal sealed class RedisCounterKeyCache(string prefix)
{
    /// <summary>The most names held.</summary>
    internal const int Capacity = 4096;

    private readonly ConcurrentDictionary<(string Key, string Shape), Entry> _names = new(Comparer.Instance);
    private int _count;

    /// <summary>How many names are held, at most <see cref="Capacity"/>; for tests.</summary>
    internal int Count => _names.Count;

    /// <summary>The name of the counter of <paramref name="partitionKey"/> under a rule of shape <paramref name="shapeId"/>.</summary>
    /// <param name="partitionKey">What is counted.</param>
    /// <param name="shapeId">The rule's shape.</param>
    /// <param name="windowIndex">The window index the name carries, or <see cref="RedisCounterKey.NoWindow"/>.</param>
    /// <returns>The name, as <see cref="RedisCounterKey.Create"/> builds it.</returns>
    public string Get(string partitionKey, string shapeId, long windowIndex)
    {
        if (_names.TryGetValue((partitionKey, shapeId), out Entry? entry) && entry.WindowIndex == windowIndex)
        {
            return entry.Name;
        }

        string name = RedisCounterKey.Create(prefix, partitionKey, shapeId, windowIndex);
        if (entry is not null)
        {
            _names[(partitionKey, shapeId)] = new Entry(windowIndex, name);
        }
        else if (Interlocked.Increment(ref _count) > Capacity)
        {
            // Full: start over. Callers racing with the clear only miss the cache.
            _names.Clear();
            Volatile.Write(ref _count, 0);
        }
        else
        {
            _names.TryAdd((partitionKey, shapeId), new Entry(windowIndex, name));
        }

        return name;
    }

    /// <summary>A name and the window index it carries.</summary>
    private sealed class Entry(long windowIndex, string name)
    {
        public long WindowIndex { get; } = windowIndex;

        public string Name { get; } = name;
    }

    /// <summary>Ordinal comparison of partition keys and shapes (the default tuple comparer is also ordinal, but not as direct).</summary>
    private sealed class Comparer : IEqualityComparer<(string Key, string Shape)>
    {
        public static readonly Comparer Instance = new();

        public bool Equals((string Key, string Shape) x, (string Key, string Shape) y)
            => string.Equals(x.Key, y.Key, StringComparison.Ordinal) && string.Equals(x.Shape, y.Shape, StringComparison.Ordinal);

        public int GetHashCode((string Key, string Shape) obj) => HashCode.Combine(obj.Key.GetHashCode(StringComparison.Ordinal), obj.Shape);
    }
}
