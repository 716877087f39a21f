using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// Capacity and eviction: the sweep that reclaims expired counters and empty overflow sketches, the tracked-key
/// slots, and what happens when the store is full.
/// </summary>
internal sealed partial class InMemoryRateLimitStore
{
    private const long NeverSwept = long.MinValue;

    private static readonly TimeSpan s_minimumCapacitySweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>Reclaims every counter whose permits have all left their windows, and overflow sketches that hold nothing.</summary>
    internal int Sweep()
    {
        long now = NowMs();
        int removed = 0;
        _refunds.Purge(now);
        lock (_sweepLock)
        {
            // Enumerating the dictionary itself takes no locks; its Values property would lock every bucket to copy.
            foreach (KeyValuePair<string, InMemoryShape> pair in _shapes)
            {
                removed += SweepShape(pair.Value, now);
            }
        }

        // Re-arm the "store is full" warning only well below the cap, so a store hovering at the cap logs once.
        if (Volatile.Read(ref _trackedKeys) <= _maxTrackedKeys - (_maxTrackedKeys / 4))
        {
            Volatile.Write(ref _fullLogged, 0);
        }

        return removed;
    }

    private int SweepShape(InMemoryShape shape, long now)
    {
        ConcurrentDictionary<string, InMemoryCounter> counters = shape.Counters;
        int removed = 0;
        foreach (KeyValuePair<string, InMemoryCounter> pair in counters)
        {
            InMemoryCounter counter = pair.Value;

            // TryEnter, never Enter: a capacity sweep runs on a deciding thread, and must not wait on a lock.
            if (counter.ExpiresAtMs <= now && counter.TryEnter())
            {
                try
                {
                    if (!counter.Removed && counter.ExpiresAtMs <= now && counters.TryRemove(pair))
                    {
                        counter.Removed = true;
                        Interlocked.Decrement(ref _trackedKeys);
                        removed++;
                    }
                }
                finally
                {
                    counter.Exit();
                }
            }
        }

        if (shape.Sketch is not null && shape.TryEnter())
        {
            try
            {
                if (shape.Sketch?.HoldsNothingAt(now) == true)
                {
                    shape.Sketch = null;
                }
            }
            finally
            {
                shape.Exit();
            }
        }

        return removed;
    }

    /// <summary>
    /// Takes one of the tracked-key slots. Compare-and-swap rather than increment-then-undo, so the count is never
    /// above the cap even for a moment.
    /// </summary>
    private bool TryReserveSlot()
    {
        int current = Volatile.Read(ref _trackedKeys);
        while (current < _maxTrackedKeys)
        {
            int seen = Interlocked.CompareExchange(ref _trackedKeys, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>
    /// Before a call that may need new counters, and with nothing locked: when the store is full, reclaims expired
    /// counters, at most once a second so that a flood of new keys cannot turn every request into a full scan.
    /// </summary>
    private void MakeRoom(long now)
    {
        if (Volatile.Read(ref _trackedKeys) < _maxTrackedKeys)
        {
            return;
        }

        long last = Volatile.Read(ref _lastCapacitySweepMs);

        // "now - NeverSwept" would overflow to a negative number and block the first capacity sweep forever.
        if ((last == NeverSwept || now - last >= (long)s_minimumCapacitySweepInterval.TotalMilliseconds)
            && Interlocked.CompareExchange(ref _lastCapacitySweepMs, now, last) == last)
        {
            Sweep();
        }
    }

    private void ScheduleSweep(long now)
    {
        long next = Volatile.Read(ref _nextSweepMs);
        if (now >= next && Interlocked.CompareExchange(ref _nextSweepMs, now + _sweepIntervalMs, next) == next)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static store => store.Sweep(), this, preferLocal: false);
        }
    }

    /// <summary>Counts a decision that used an overflow sketch, and says once per episode that the store is full. Nothing is locked.</summary>
    /// <remarks>Not inlined: a rare path, whose metrics and logging would grow the frame of every decision that inlined it.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void OnOverflow()
    {
        Interlocked.Increment(ref _overflowDecisions);
        _metrics?.RecordOverflowDecision(_name);
        if (Volatile.Read(ref _fullLogged) == 0 && Interlocked.Exchange(ref _fullLogged, 1) == 0)
        {
            Log.StoreFull(_logger, _name, _maxTrackedKeys);
        }
    }
}
