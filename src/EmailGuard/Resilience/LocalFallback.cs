using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// <see cref="StoreFailureMode.LocalFallback"/>: while the shared store cannot be reached, this instance enforces its
/// share of every limit in memory, minus what the shared store had already counted in the window when it was last
/// reached; when the store answers again, the permits admitted here are written back to it, for windows still current.
/// </summary>
/// <remarks>
/// <para>
/// <b>Shares.</b> A limit L across N instances (<see cref="StoreResilienceOptions.InstanceCount"/>) gives each instance
/// floor(L / N). With <see cref="StoreResilienceOptions.InstanceIndex"/> set (a distinct index 0 … N - 1 per
/// instance), the L mod N remaining permits of each partition go to L mod N of the instances, chosen from a stable hash
/// of the partition, so every partition gets exactly L in all and different partitions favour different instances.
/// Without an index they go to no one: a limit below N admits nothing locally.
/// </para>
/// <para>
/// <b>Before the outage.</b> After every admitted shared-store acquire under this failure mode, the count the store
/// reported for each counter is remembered with its window (<see cref="Observe"/>). Local admits of a counter are
/// checked against share - remembered count, so a window the shared store had already spent is not spent again here.
/// </para>
/// <para>
/// <b>After the outage.</b> Local admits are written back to the shared store by ordinary acquires of the same rules,
/// best effort, for windows still current; where the store has no room for all of them it is filled to the limit,
/// which is all that matters: then it admits nothing more in that window.
/// </para>
/// <para>
/// The memory is bounded by <see cref="InMemoryRateLimitStoreOptions.MaxTrackedKeys"/> counters; beyond that, new
/// counters are not remembered (a counter not remembered gets the whole share locally) and admits are not written back.
/// </para>
/// </remarks>
internal sealed partial class LocalFallback
{
    private static readonly TimeSpan s_minimumPurgeInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Lookups of one counter by one call: a purge can remove the counter found, once a second at most, so a second
    /// lookup almost always finds or makes a live one. A call that still finds none counts nothing, as at capacity.
    /// </summary>
    private const int MaxLookups = 3;

    private readonly InMemoryRateLimitStore _local;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly int _instanceCount;
    private readonly int? _instanceIndex;
    private readonly int _capacity;
    private readonly ConcurrentDictionary<CounterId, Counter> _counters = new();
    private int _count;
    private int _pending;
    private int _writingBack;
    private long _lastPurgeMs = long.MinValue;

    public LocalFallback(InMemoryRateLimitStore local, int instanceCount, int? instanceIndex, int capacity, TimeProvider timeProvider, ILogger logger)
    {
        _local = local;
        _instanceCount = Math.Max(1, instanceCount);
        _instanceIndex = instanceIndex;
        _capacity = capacity;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Whether local admits wait to be written back to the shared store.</summary>
    public bool HasPendingWriteBacks => Volatile.Read(ref _pending) != 0;

    /// <summary>The counters remembered now.</summary>
    internal int TrackedCounters => Volatile.Read(ref _count);

    /// <summary>Test seam: runs after a lookup found a counter and before its caller locks it, where a purge can remove it.</summary>
    internal Action? CounterFound { get; set; }

    /// <summary>
    /// This instance's share of a rule's limit for one partition. Shares of N instances with distinct indexes add up to
    /// the limit exactly; without an index, to floor(L / N) × N.
    /// </summary>
    public long Share(RateLimitRule rule, string key)
    {
        long limit = rule.Limit;
        long share = limit / _instanceCount;
        long remainder = limit % _instanceCount;
        if (remainder == 0 || _instanceIndex is not { } index)
        {
            return share;
        }

        // The first instance to get one of the remainder's permits, by partition; then the next remainder - 1 indexes.
        int first = (int)(StableHash(key) % (ulong)_instanceCount);
        int offset = (index - first + _instanceCount) % _instanceCount;
        return offset < remainder ? share + 1 : share;
    }

    /// <summary>Remembers what the shared store counted after an admitted acquire.</summary>
    public void Observe(ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<RateLimitEntry> entries, DateTimeOffset at)
    {
        long nowMs = at.ToUnixTimeMilliseconds();
        int n = Math.Min(requests.Length, entries.Length);
        for (int i = 0; i < n; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            long window = WindowOf(request.Rule, nowMs);
            long count = entries[i].Count;
            for (int attempt = 0; attempt < MaxLookups && GetOrAdd(request, nowMs) is { } counter; attempt++)
            {
                // Most calls find the counter in its window already: no lock, which every caller would contend for on
                // a guard's global counter.
                if (counter.TryRaiseSeen(request.Rule, window, count))
                {
                    break;
                }

                lock (counter)
                {
                    if (counter.Removed)
                    {
                        continue;
                    }

                    counter.Roll(request.Rule, window);
                    counter.RaiseSeen(count);
                    break;
                }
            }
        }
    }

    /// <summary>Decides an acquire in this process, within this instance's share of each limit.</summary>
    public async ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        long nowMs = now.ToUnixTimeMilliseconds();
        int n = requests.Length;
        RateLimitRequest[] local = new RateLimitRequest[n];
        int deniedIndex = -1;
        TimeSpan retryAfter = TimeSpan.Zero;
        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        bool[]? spent = null;
        for (int i = 0; i < n; i++)
        {
            RateLimitRule rule = span[i].Rule;
            if (rule.IsTally)
            {
                // A tally is no limit to share out: it never denies, and a share of one could (a token bucket's share can
                // refill slower than the share of the rule it counts with). Kept whole, it stays a tally, which the local
                // store never counts in its overflow sketch.
                local[i] = span[i];
                continue;
            }

            long allowance = Share(rule, span[i].Key) - SeenBefore(in span[i], nowMs);
            if (allowance < 1)
            {
                // Nothing left here (a share of 0, or a window the shared store had spent): no local counter can say so.
                deniedIndex = deniedIndex < 0 ? i : deniedIndex;
                TimeSpan untilWindowEnds = WindowMath.FromUnixMilliseconds(WindowMath.FixedWindowEnd(nowMs, rule.WindowMilliseconds)) - now;
                retryAfter = untilWindowEnds > retryAfter ? untilWindowEnds : retryAfter;
                spent ??= new bool[n];
                spent[i] = true;
                allowance = 1;
            }

            local[i] = span[i] with { Rule = rule.WithLimit(allowance) };
        }

        if (deniedIndex >= 0)
        {
            // Report what this instance would allow, and take nothing.
            await _local.PeekAsync(local, results, cancellationToken).ConfigureAwait(false);
            Span<RateLimitEntry> entries = results.Span;
            for (int i = 0; i < entries.Length && i < n; i++)
            {
                if (spent![i])
                {
                    entries[i] = new RateLimitEntry(false, entries[i].Count, 0, retryAfter, entries[i].ResetAt);
                }
            }

            return new RateLimitDecision(RateLimitStatus.LimitExceeded, deniedIndex, retryAfter, now);
        }

        RateLimitDecision decision = await _local.AcquireAsync(local, results, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.Allowed)
        {
            // The caller's rules, not the local shares: the write-back counts against the real limits.
            for (int i = 0; i < n; i++)
            {
                RateLimitRequest request = requests.Span[i];
                AddLocal(in request, request.Cost, nowMs);
            }
        }

        return decision with { AdmittedLocally = true };
    }

    /// <summary>Refunds a decision of the local fallback to the local store, and takes it out of the write-back.</summary>
    public async ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken)
    {
        if (!await _local.RefundAsync(requests, decision, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        long acquiredAtMs = decision.Timestamp.ToUnixTimeMilliseconds();
        foreach (RateLimitRequest request in requests.Span)
        {
            AddLocal(in request, -request.Cost, acquiredAtMs);
        }

        return true;
    }

    /// <summary>An index per window for fixed windows; for sliding windows, the aligned window of the same length, which keeps remembered counts no longer than a window.</summary>
    private static long WindowOf(RateLimitRule rule, long nowMs) => WindowMath.FloorDiv(nowMs, rule.WindowMilliseconds);

    /// <summary>FNV-1a over the UTF-16 code units: the same on every instance, unlike <see cref="string.GetHashCode()"/>.</summary>
    private static ulong StableHash(string value)
    {
        ulong hash = 0xcbf29ce484222325;
        foreach (char c in value)
        {
            hash = (hash ^ c) * 0x100000001b3;
        }

        return hash;
    }

    private long SeenBefore(in RateLimitRequest request, long nowMs)
    {
        CounterId id = new(request.Rule.ShapeId, request.Key);
        for (int attempt = 0; attempt < MaxLookups && _counters.TryGetValue(id, out Counter? counter); attempt++)
        {
            lock (counter)
            {
                if (!counter.Removed)
                {
                    return counter.Window == WindowOf(request.Rule, nowMs) ? Volatile.Read(ref counter.Seen) : 0;
                }
            }
        }

        return 0;
    }

    private void AddLocal(in RateLimitRequest request, long cost, long atMs)
    {
        for (int attempt = 0; attempt < MaxLookups && GetOrAdd(request, atMs) is { } counter; attempt++)
        {
            lock (counter)
            {
                if (counter.Removed)
                {
                    continue;
                }

                long window = WindowOf(request.Rule, atMs);
                if (cost < 0 && counter.Window != window)
                {
                    return;
                }

                counter.Roll(request.Rule, window);

                // A refund of permits already written back cannot be taken out of the shared store: they stay counted there.
                counter.Local = Math.Max(counter.Written, counter.Local + cost);
            }

            if (cost > 0)
            {
                Volatile.Write(ref _pending, 1);
            }

            return;
        }
    }

    private Counter? GetOrAdd(in RateLimitRequest request, long nowMs)
    {
        CounterId id = new(request.Rule.ShapeId, request.Key);
        if (_counters.TryGetValue(id, out Counter? counter))
        {
            CounterFound?.Invoke();
            return counter;
        }

        if (Volatile.Read(ref _count) >= _capacity && Purge(nowMs) == 0)
        {
            return null;
        }

        Counter created = new(request.Rule);
        counter = _counters.GetOrAdd(id, created);
        if (ReferenceEquals(counter, created))
        {
            Interlocked.Increment(ref _count);
        }

        return counter;
    }

    /// <summary>At capacity, forgets counters of windows that have ended with nothing left to write back; at most once a second.</summary>
    private int Purge(long nowMs)
    {
        long last = Volatile.Read(ref _lastPurgeMs);
        if ((last != long.MinValue && nowMs - last < (long)s_minimumPurgeInterval.TotalMilliseconds)
            || Interlocked.CompareExchange(ref _lastPurgeMs, nowMs, last) != last)
        {
            return 0;
        }

        int removed = 0;
        foreach (KeyValuePair<CounterId, Counter> pair in _counters)
        {
            Counter counter = pair.Value;
            lock (counter)
            {
                if (counter.Window == WindowOf(counter.Rule, nowMs) || counter.Local > counter.Written || !_counters.TryRemove(pair))
                {
                    continue;
                }

                // A caller that found this counter before the removal and locks it after sees the flag and looks it up
                // again, rather than counting on a counter the write-back no longer visits.
                counter.Removed = true;
            }

            Interlocked.Decrement(ref _count);
            removed++;
        }

        return removed;
    }
}
