using System.Collections.Concurrent;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>
/// A key-value store (feedback mappings, replay memory) written only against EmailGuard's public extension surface, as
/// a third party would write one for its own database. It records every key it is asked about, so a test can prove the
/// calls reached it.
/// </summary>
public sealed class ExternalKeyValueStore(TimeProvider timeProvider) : IEmailGuardKeyValueStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (string Value, DateTimeOffset ExpiresAt)> _values = new(StringComparer.Ordinal);

    /// <summary>Gets every call received, in order, as <c>"set key"</c>, <c>"get key"</c>, <c>"add key"</c> or <c>"remove key"</c>.</summary>
    public ConcurrentQueue<string> Calls { get; } = new();

    /// <inheritdoc />
    public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        Calls.Enqueue("set " + key);
        lock (_lock)
        {
            _values[key] = (value, timeProvider.GetUtcNow() + timeToLive);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateKey(key);
        Calls.Enqueue("get " + key);
        lock (_lock)
        {
            return new(Live(key));
        }
    }

    /// <inheritdoc />
    public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        Calls.Enqueue("add " + key);
        lock (_lock)
        {
            if (Live(key) is { } existing)
            {
                return new(existing);
            }

            _values[key] = (value, timeProvider.GetUtcNow() + timeToLive);
            return new((string?)null);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateRemove(key, expectedValue);
        Calls.Enqueue("remove " + key);
        lock (_lock)
        {
            // Compared and removed under the lock GetOrAddAsync takes, so a value stored meanwhile is never removed.
            return new(string.Equals(Live(key), expectedValue, StringComparison.Ordinal) && _values.Remove(key));
        }
    }

    private string? Live(string key)
    {
        if (!_values.TryGetValue(key, out (string Value, DateTimeOffset ExpiresAt) entry))
        {
            return null;
        }

        if (entry.ExpiresAt > timeProvider.GetUtcNow())
        {
            return entry.Value;
        }

        _values.Remove(key);
        return null;
    }
}
