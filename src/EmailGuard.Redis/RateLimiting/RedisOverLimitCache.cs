using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace EmailGuard.Redis;

/// <summary>
/// Fixed-window counters this instance saw at or over a limit, so that later acquires on them until the window ends are
/// denied here, without a round trip: a flood costs Redis one script per key per window (per max age), the admission
/// that filled the counter, whose answer is recorded as the denial after it would be.
/// </summary>
/// <remarks>
/// <para>
/// An entry records the counter's count, not a verdict: an acquire hits only while that count is at least the acquire's
/// own limit, so a raised limit (a tenant override, a cleared flag, a reload) misses and asks Redis, and a lowered one
/// is denied at once as Redis would. Nothing but a refund or a reset lowers a fixed-window count inside its window.
/// </para>
/// <para>
/// A refund or reset made through this instance removes the entries of its counters when it completes, and bumps an
/// epoch: a denial whose script was sent before that is not cached, since Redis may have decided it before the refund.
/// An admission records the counters it filled and removes the entries of those it left below their limits (under a
/// raised limit the count moved). Refunds and resets made through
/// <em>other</em> instances are not seen: every entry lives at most the configured max age, which bounds how long this
/// instance can deny what Redis would admit again.
/// </para>
/// <para>
/// Sliding windows are never cached: their counts fall at every segment boundary and the retry-after depends on the
/// cost, so a local answer could not equal Redis's.
/// </para>
/// <para>
/// On the server clock, the window's end is known here only to lie between two local times: its time left counted from
/// before the script was sent (an entry denies no later than that, so never past the window's end) and counted from
/// after its reply arrived. An acquire that comes between the two, for at most the boundary wait, is told to wait until
/// the later one and then ask Redis (see <c>RedisRateLimitStore.AcquireOnceTheWindowEndedAsync</c>): sent at once, Redis
/// would deny it in the old window and the next one admitted would be a second script in that window, so a flood would
/// cost two scripts per key per window instead of one.
/// </para>
/// </remarks>
internal sealed class RedisOverLimitCache
{
    /// <summary>The name of the instrument that counts acquires denied from the cache.</summary>
    public const string LocalDenialsInstrument = "emailguard.store.local_denials";

    /// <summary>The most entries kept; an attacker over the limit on a million keys costs round trips, not memory.</summary>
    internal const int MaxEntries = 65_536;

    private readonly ConcurrentDictionary<CounterId, Entry> _entries = new();
    private readonly TimeProvider _timeProvider;
    private readonly long _maxAgeTicks;
    private readonly long _maxBoundaryWaitTicks;
    private readonly Counter<long>? _hits;
    private int _count;
    private long _epoch;
    private long _lastSweep;
    private long _hitCount;
    private long _boundaryWaitCount;

    /// <param name="timeProvider">The clock that measures ages and, on the client clock, names windows.</param>
    /// <param name="maxAge">The longest an entry lives, however far its window's end.</param>
    /// <param name="meterFactory">The host's meter factory, for the hit counter; none records nothing.</param>
    /// <param name="maxBoundaryWait">
    /// The longest uncertainty about a window's end on the server clock that <see cref="TryGetOver(string, RateLimitRule, long, out long, out long, out long, out long)"/>
    /// reports for the caller to wait out; zero reports none.
    /// </param>
    public RedisOverLimitCache(TimeProvider timeProvider, TimeSpan maxAge, IMeterFactory? meterFactory, TimeSpan maxBoundaryWait = default)
    {
        _timeProvider = timeProvider;
        _maxAgeTicks = (long)(maxAge.TotalSeconds * timeProvider.TimestampFrequency);
        _maxBoundaryWaitTicks = (long)(maxBoundaryWait.TotalSeconds * timeProvider.TimestampFrequency);
        _lastSweep = timeProvider.GetTimestamp();
        _hits = meterFactory?.Create(new MeterOptions(EmailGuardDiagnostics.MeterName)).CreateCounter<long>(
            LocalDenialsInstrument,
            unit: "{decision}",
            description: "Acquires the Redis store denied locally, without a round trip, because a counter was known to be over its limit.");
    }

    /// <summary>Gets the acquires denied from the cache so far; for tests.</summary>
    internal long HitCount => Interlocked.Read(ref _hitCount);

    /// <summary>Gets the acquires that waited for a window on the server clock to end before asking Redis; for tests.</summary>
    internal long BoundaryWaitCount => Interlocked.Read(ref _boundaryWaitCount);

    /// <summary>Gets the entries held; for tests.</summary>
    internal int Count => Volatile.Read(ref _count);

    /// <summary>Gets the invalidation epoch: read it before sending a script, pass it to <see cref="Add"/> after.</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>
    /// Finds a live entry for a fixed-window counter whose count leaves no room under the rule's limit.
    /// </summary>
    /// <param name="key">The partition key.</param>
    /// <param name="rule">The rule; only its shape names the counter.</param>
    /// <param name="clientWindow">On the client clock, the window the caller's clock names; else <see cref="RedisCounterKey.NoWindow"/>.</param>
    /// <param name="count">The counter's count.</param>
    /// <param name="resetAtMs">The window's end, as Redis reported it.</param>
    /// <param name="retryMs">On the server clock, the milliseconds until the window ends, measured on the local clock.</param>
    /// <returns>Whether the acquire is certain to be denied.</returns>
    public bool TryGetOver(string key, RateLimitRule rule, long clientWindow, out long count, out long resetAtMs, out long retryMs)
        => TryGetOver(key, rule, clientWindow, out count, out resetAtMs, out retryMs, out _);

    /// <summary>
    /// Finds a live entry for a fixed-window counter whose count leaves no room under the rule's limit, or learns that
    /// its window on the server clock is ending: then Redis would deny the acquire for a few moments more, and admit it
    /// once <paramref name="windowEndedAt"/> has passed.
    /// </summary>
    /// <param name="key">The partition key.</param>
    /// <param name="rule">The rule; only its shape names the counter.</param>
    /// <param name="clientWindow">On the client clock, the window the caller's clock names; else <see cref="RedisCounterKey.NoWindow"/>.</param>
    /// <param name="count">The counter's count.</param>
    /// <param name="resetAtMs">The window's end, as Redis reported it.</param>
    /// <param name="retryMs">On the server clock, the milliseconds until the window ends, measured on the local clock.</param>
    /// <param name="windowEndedAt">
    /// When the method returns false for a counter known over its limit whose window, on the server clock, may or may
    /// not have ended yet: the local timestamp by which it surely has; else 0. The uncertainty is as long as the round
    /// trip that recorded the entry took (see <see cref="Add"/>), and is reported only while that is at most the
    /// boundary wait this cache was made with.
    /// </param>
    /// <returns>Whether the acquire is certain to be denied.</returns>
    public bool TryGetOver(string key, RateLimitRule rule, long clientWindow, out long count, out long resetAtMs, out long retryMs, out long windowEndedAt)
    {
        windowEndedAt = 0;
        if (Volatile.Read(ref _count) > 0
            && _entries.TryGetValue(new CounterId(key, rule.ShapeId), out Entry? entry)
            && entry.Count >= rule.Limit
            && entry.Window == clientWindow)
        {
            long now = _timeProvider.GetTimestamp();
            if (now < entry.ValidUntil)
            {
                count = entry.Count;
                resetAtMs = entry.ResetAtMs;
                retryMs = (long)Math.Ceiling((entry.WindowEndsAt - now) * 1000.0 / _timeProvider.TimestampFrequency);
                return true;
            }

            if (now < entry.WindowSurelyEndedAt
                && entry.ValidUntil == entry.WindowEndsAt
                && entry.Window == RedisCounterKey.NoWindow
                && entry.WindowSurelyEndedAt - entry.WindowEndsAt <= _maxBoundaryWaitTicks)
            {
                // Ended on the earliest reading of the server's clock, not yet on the latest: kept until then, since
                // nothing but the window's end (no max age, no refund: those remove it) makes it end here.
                windowEndedAt = entry.WindowSurelyEndedAt;
            }
            else
            {
                Remove(key, rule.ShapeId, entry);
            }
        }

        count = 0;
        resetAtMs = 0;
        retryMs = 0;
        return false;
    }

    /// <summary>Counts one acquire answered from the cache.</summary>
    public void RecordHit()
    {
        Interlocked.Increment(ref _hitCount);
        if (_hits is { Enabled: true } hits)
        {
            hits.Add(1);
        }
    }

    /// <summary>Counts one acquire that waited for its window to end on the server clock.</summary>
    public void RecordBoundaryWait() => Interlocked.Increment(ref _boundaryWaitCount);

    /// <summary>
    /// Records that a fixed-window counter was seen at <paramref name="count"/> (at or over some acquire's limit) with
    /// <paramref name="retryMs"/> left in its window when its script ran, by a script sent at <paramref name="epoch"/>.
    /// </summary>
    /// <param name="key">The partition key.</param>
    /// <param name="shapeId">The rule's shape.</param>
    /// <param name="clientWindow">On the client clock, the window the acquire named; else <see cref="RedisCounterKey.NoWindow"/>.</param>
    /// <param name="count">The counter's count.</param>
    /// <param name="resetAtMs">The window's end, as the acquire reported it.</param>
    /// <param name="retryMs">The milliseconds left in the window when the script decided.</param>
    /// <param name="epoch">The cache's epoch when the script was sent.</param>
    /// <param name="sentAt">
    /// A local timestamp taken before the script was sent, from which <paramref name="retryMs"/> is counted: Redis
    /// decided after it, so the entry ends no later than the window does, however late the reply arrived (a slow
    /// network, a busy client). Counted from the reply's arrival instead, it denied past the window's end for as long as
    /// the reply had taken.
    /// </param>
    public void Add(string key, string shapeId, long clientWindow, long count, long resetAtMs, long retryMs, long epoch, long sentAt)
    {
        if (retryMs <= 0 || Interlocked.Read(ref _epoch) != epoch)
        {
            return;
        }

        long now = _timeProvider.GetTimestamp();
        long retryTicks = (long)(retryMs / 1000.0 * _timeProvider.TimestampFrequency);
        long windowEndsAt = sentAt + retryTicks;
        if (windowEndsAt <= now)
        {
            return;
        }

        // Redis decided before now, so the window has surely ended retryMs after now: between the two, it may have.
        // "Surely" allows for the clocks: the server's reading counts from its wall clock, this entry from the local
        // monotonic one, and NTP slews the two apart by up to 500 ppm, while the whole milliseconds Redis reports and
        // the local timer's own resolution add up to a millisecond more. Sent at the bare retryMs, a request could reach
        // Redis in the window's last millisecond by the server's clock and be denied there: a second script in the
        // window (seen once on Garnet, 1 ms before the end). Waiting a millisecond longer costs the flood nothing.
        long surelyEndedAt = now + retryTicks + (_timeProvider.TimestampFrequency / 1000) + (retryTicks / 2000);
        Entry entry = new(count, resetAtMs, clientWindow, windowEndsAt, Math.Min(windowEndsAt, now + _maxAgeTicks), surelyEndedAt);
        CounterId id = new(key, shapeId);
        if (Volatile.Read(ref _count) >= MaxEntries && !Sweep(now))
        {
            return;
        }

        bool added = false;
        _entries.AddOrUpdate(
            id,
            _ =>
            {
                added = true;
                return entry;
            },
            (_, _) =>
            {
                added = false;
                return entry;
            });
        if (added)
        {
            Interlocked.Increment(ref _count);
        }

        // A refund or reset that completed while this was being written may have missed the entry: take it back out.
        if (Interlocked.Read(ref _epoch) != epoch)
        {
            Remove(key, shapeId, entry);
        }
    }

    /// <summary>Forgets a counter whose count went up (an admission under a larger limit).</summary>
    public void Forget(string key, string shapeId)
    {
        if (Volatile.Read(ref _count) > 0 && _entries.TryRemove(new CounterId(key, shapeId), out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>
    /// Forgets a counter whose count went down (a refund, a give-back, a reset), and makes every denial still in flight
    /// uncacheable, since Redis may have decided it before the count went down.
    /// </summary>
    public void Invalidate(string key, string shapeId)
    {
        Interlocked.Increment(ref _epoch);
        Forget(key, shapeId);
    }

    private void Remove(string key, string shapeId, Entry entry)
    {
        if (_entries.TryRemove(new KeyValuePair<CounterId, Entry>(new CounterId(key, shapeId), entry)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Drops expired entries, at most once per max age (every entry has expired by then); whether there is room now.</summary>
    private bool Sweep(long now)
    {
        long last = Interlocked.Read(ref _lastSweep);
        if (now - last >= _maxAgeTicks && Interlocked.CompareExchange(ref _lastSweep, now, last) == last)
        {
            foreach (KeyValuePair<CounterId, Entry> pair in _entries)
            {
                if (pair.Value.ValidUntil <= now && _entries.TryRemove(pair))
                {
                    Interlocked.Decrement(ref _count);
                }
            }
        }

        return Volatile.Read(ref _count) < MaxEntries;
    }

    private readonly record struct CounterId(string Key, string ShapeId);

    /// <summary>
    /// One counter's state: times are local timestamps, so the entry ends when the window does on any clock. On the
    /// server clock the window ends between <c>WindowEndsAt</c> (counted from before the script was sent) and
    /// <c>WindowSurelyEndedAt</c> (counted from after its reply arrived).
    /// </summary>
    private sealed record Entry(long Count, long ResetAtMs, long Window, long WindowEndsAt, long ValidUntil, long WindowSurelyEndedAt);
}
