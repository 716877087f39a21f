namespace EmailGuard.Dashboard;

/// <summary>
/// The space-saving top-k sketch (Metwally, Agrawal, El Abbadi 2005): at most <c>capacity</c> counters, whatever the
/// number of distinct keys. A key not tracked takes the place of the smallest counter and inherits its count as its
/// error, so a reported count overestimates by at most <see cref="Counter.Error"/>, and any key whose true count exceeds
/// <c>total / capacity</c> is tracked. Not thread-safe: the owner locks.
/// </summary>
internal sealed class SpaceSavingSketch(int capacity)
{
    private readonly Dictionary<string, Counter> _counters = new(capacity, StringComparer.Ordinal);

    public long Total { get; private set; }

    public int Count => _counters.Count;

    public void Add(string key, long weight)
    {
        Total += weight;
        if (_counters.TryGetValue(key, out Counter? counter))
        {
            counter.Count += weight;
            return;
        }

        if (_counters.Count < capacity)
        {
            _counters.Add(key, new Counter { Count = weight });
            return;
        }

        // O(capacity) to find the smallest; capacity is small (tens), and this runs only for keys not already tracked.
        KeyValuePair<string, Counter> smallest = default;
        foreach (KeyValuePair<string, Counter> pair in _counters)
        {
            if (smallest.Value is null || pair.Value.Count < smallest.Value.Count)
            {
                smallest = pair;
            }
        }

        _counters.Remove(smallest.Key);
        _counters.Add(key, new Counter { Count = smallest.Value.Count + weight, Error = smallest.Value.Count });
    }

    /// <summary>
    /// Takes up to <paramref name="weight"/> off <paramref name="key"/>'s counter, never below zero, and forgets a counter
    /// that reaches zero; returns what it took. A key not tracked has nothing to take: its permits went to the counter
    /// that replaced it, as that counter's error.
    /// </summary>
    public long Subtract(string key, long weight)
    {
        if (!_counters.TryGetValue(key, out Counter? counter))
        {
            return 0;
        }

        long taken = Math.Min(weight, counter.Count);
        counter.Count -= taken;
        Total -= taken;
        if (counter.Count == 0)
        {
            _counters.Remove(key);
        }
        else if (counter.Error > counter.Count)
        {
            counter.Error = counter.Count;
        }

        return taken;
    }

    public IEnumerable<KeyValuePair<string, Counter>> Items => _counters;

    internal sealed class Counter
    {
        public long Count;
        public long Error;
    }
}
