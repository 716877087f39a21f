namespace EmailGuard.AspNetCore;

/// <summary>
/// The signed tokens seen within the timestamp tolerance, on this instance. Bounded: only verified tokens enter, each
/// leaves when its timestamp falls out of the tolerance (after which the stale check refuses it anyway). Across
/// instances a replay inside the window is still recorded once, because recording deduplicates by provider event id
/// in the shared store.
/// </summary>
internal sealed class ReplayTokenMemory(int capacity, TimeProvider time)
{
    private readonly Dictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, DateTimeOffset> _expiry = new();
    private readonly Lock _lock = new();

    public enum Result
    {
        None = 0,
        Added,
        Seen,
        Full,
    }

    /// <summary>Remembers <paramref name="token"/> until <paramref name="expiresAt"/>; says whether it was seen before.</summary>
    public Result TryAdd(string token, DateTimeOffset expiresAt)
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_lock)
        {
            while (_expiry.TryPeek(out string? oldest, out DateTimeOffset at) && at <= now)
            {
                _expiry.Dequeue();
                if (_tokens.TryGetValue(oldest, out DateTimeOffset current) && current == at)
                {
                    _tokens.Remove(oldest);
                }
            }

            if (_tokens.ContainsKey(token))
            {
                return Result.Seen;
            }

            if (_tokens.Count >= capacity)
            {
                return Result.Full;
            }

            _tokens[token] = expiresAt;
            _expiry.Enqueue(token, expiresAt);
            return Result.Added;
        }
    }

    /// <summary>Forgets a token whose request was not acknowledged, so the provider's retry is not refused as a replay.</summary>
    public void Remove(string token)
    {
        lock (_lock)
        {
            // The queue entry stays and is skipped when it comes due: its time no longer matches.
            _tokens.Remove(token);
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _tokens.Count;
            }
        }
    }
}
