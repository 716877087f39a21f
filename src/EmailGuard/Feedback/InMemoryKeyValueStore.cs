using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The embedded <see cref="IEmailGuardKeyValueStore"/>: one instance only, bounded. Keys are held in separate pools by
/// kind, each with its own bound, so a flood of one kind cannot push out another; in each pool, when full, expired
/// values go first, then the oldest.
/// </summary>
/// <remarks>
/// <para>The pools, for a configured capacity C (<see cref="EmailFeedbackOptions.MaxInMemoryMappings"/>):</para>
/// <list type="bullet">
/// <item><description><c>message-ids</c> (C): feedback's message-id mappings and the fan-out memory, the kinds whose
/// volume follows the mail sent, so whoever sends can fill them.</description></item>
/// <item><description><c>breakers</c>, <c>replay-tokens</c> and <c>other</c> (each C / 10, at least 1,000, never more
/// than C): the ratio breakers' levels, probes and claims; Mailgun's webhook tokens; everything else (fair share, the
/// dashboard, third-party keys).</description></item>
/// </list>
/// <para>A full <c>replay-tokens</c> pool with no expired token never forgets a live one, since a forgotten token lets a
/// forged body through under a captured signature: a new token is refused by throwing, and the Mailgun webhook answers
/// 503 so that Mailgun retries once tokens expire (logged once, 2941). The other pools forget their oldest live value
/// (logged once per pool, 2940).</para>
/// <para>Expired values are found through a queue ordered by expiry and the oldest through one ordered by writes, so a
/// write costs O(log n), never a scan; the queues are rebuilt from the live values once stale items (rewritten or
/// removed keys) outnumber them, which amortizes to O(1) per write.</para>
/// </remarks>
internal sealed partial class InMemoryKeyValueStore : IEmailGuardKeyValueStore
{
    /// <summary>The prefix of Mailgun's replay tokens (<c>webhook-token:mailgun:</c>, written by the ASP.NET Core package).</summary>
    internal const string ReplayTokenPrefix = "webhook-token:";

    /// <summary>The smallest bound of a pool other than <c>message-ids</c>, unless the configured capacity is smaller.</summary>
    internal const int MinimumPoolCapacity = 1_000;

    private readonly Pool _messageIds;
    private readonly Pool _breakers;
    private readonly Pool _replayTokens;
    private readonly Pool _other;
    private readonly TimeProvider _timeProvider;

    public InMemoryKeyValueStore(int capacity, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _timeProvider = timeProvider;
        logger ??= NullLogger.Instance;
        int small = SmallPoolCapacity(capacity);
        _messageIds = new Pool("message-ids", capacity, refuseWhenFull: false, logger);
        _breakers = new Pool("breakers", small, refuseWhenFull: false, logger);
        _replayTokens = new Pool("replay-tokens", small, refuseWhenFull: true, logger);
        _other = new Pool("other", small, refuseWhenFull: false, logger);
    }

    /// <summary>The configured capacity, the bound of the <c>message-ids</c> pool.</summary>
    public int Capacity { get; }

    /// <summary>The values held in all pools, expired ones not yet reclaimed included.</summary>
    public int Count => _messageIds.Count + _breakers.Count + _replayTokens.Count + _other.Count;

    /// <summary>The items queued by age and by expiry in all pools, stale ones included, for tests of the bound.</summary>
    internal int QueuedItems => _messageIds.Queued + _breakers.Queued + _replayTokens.Queued + _other.Queued;

    /// <summary>The bound of the pools other than <c>message-ids</c>: a tenth of <paramref name="capacity"/>, at least 1,000, at most <paramref name="capacity"/>.</summary>
    internal static int SmallPoolCapacity(int capacity) => Math.Max(Math.Min(capacity, MinimumPoolCapacity), capacity / 10);

    public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        PoolOf(key).Write(key, value, now, now + timeToLive, onlyIfAbsent: false);
        return ValueTask.CompletedTask;
    }

    public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateWrite(key, value, timeToLive);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        return new(PoolOf(key).Write(key, value, now, now + timeToLive, onlyIfAbsent: true));
    }

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateKey(key);
        return new(PoolOf(key).Read(key, _timeProvider.GetUtcNow()));
    }

    public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
    {
        KeyValueStoreValidation.ValidateRemove(key, expectedValue);
        return new(PoolOf(key).Remove(key, expectedValue, _timeProvider.GetUtcNow()));
    }

    private Pool PoolOf(string key)
        => key.StartsWith(FeedbackKeys.MessagePrefix, StringComparison.Ordinal) || key.StartsWith(FanOutMonitor.KeyPrefix, StringComparison.Ordinal) ? _messageIds
            : key.StartsWith(RatioBreaker.KeyPrefix, StringComparison.Ordinal) ? _breakers
            : key.StartsWith(ReplayTokenPrefix, StringComparison.Ordinal) ? _replayTokens
            : _other;
}
