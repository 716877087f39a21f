using System.Buffers;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// Acquire and peek: finds the counters of a call and locks them (and the shapes of keys without one) in a global
/// order, then hands the call to <see cref="EvaluateMany"/>.
/// </summary>
internal sealed partial class InMemoryRateLimitStore
{
    private const int SmallCallLength = 16;

    private RateLimitDecision Decide(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long maxWaitMs = NoReservation)
        => Decide(requests, results, commit, maxWaitMs, _systemClock ? Environment.TickCount64 : 0);

    /// <summary>As <see cref="Decide(ReadOnlySpan{RateLimitRequest}, Span{RateLimitEntry}, bool, long)"/>, at a reading of <see cref="Environment.TickCount64"/> (see <see cref="NowMs(long)"/>).</summary>
    private RateLimitDecision Decide(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long maxWaitMs, long systemTick)
    {
        RateLimitValidation.ValidateRequests(requests, results.Length, allowZeroCost: !commit);
        return DecideValid(requests, results, commit, maxWaitMs, systemTick);
    }

    /// <summary>As <see cref="Decide(ReadOnlySpan{RateLimitRequest}, Span{RateLimitEntry}, bool, long, long)"/>, for requests already known to be valid.</summary>
    private RateLimitDecision DecideValid(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long maxWaitMs, long systemTick)
    {
        long now = NowMs(systemTick);
        if (now >= Volatile.Read(ref _nextSweepMs))
        {
            ScheduleSweep(now);
        }

        if (requests.Length == 0)
        {
            return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(now));
        }

        return requests.Length == 1 && maxWaitMs == NoReservation
            ? DecideOne(in requests[0], results, commit, now)
            : DecideMany(requests, results, commit, now, maxWaitMs);
    }

    /// <remarks>
    /// Not inlined, nor is <see cref="DecideMany(ReadOnlySpan{RateLimitRequest}, Span{RateLimitEntry}, bool, long, long)"/>:
    /// inlined into <see cref="Decide(ReadOnlySpan{RateLimitRequest}, Span{RateLimitEntry}, bool, long, long)"/>, the
    /// locals of both made one frame that every call zeroed, some 700 bytes, whichever of them it took.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private RateLimitDecision DecideOne(in RateLimitRequest request, Span<RateLimitEntry> results, bool commit, long now)
    {
        InMemoryShape shape = ShapeOf(request.Rule);
        while (true)
        {
            if (shape.TryGetCounter(request.Key, out InMemoryCounter? counter))
            {
                counter.Enter();
                try
                {
                    if (counter.Removed)
                    {
                        continue;
                    }

                    return counter.DecideAlone(request.Rule, request.Cost, now, commit, results);
                }
                finally
                {
                    counter.Exit();
                }
            }

            if (commit)
            {
                MakeRoom(now);
            }

            RateLimitDecision decision;
            bool overflowed = false;
            shape.Enter();
            try
            {
                if (shape.Counters.ContainsKey(request.Key))
                {
                    continue;
                }

                InMemoryCounter? created = null;
                InMemoryShape? absent = shape;
                decision = EvaluateMany(
                    new ReadOnlySpan<RateLimitRequest>(in request), results, new Span<InMemoryCounter?>(ref created), new ReadOnlySpan<InMemoryShape?>(in absent), commit, now, now, ref overflowed);
            }
            finally
            {
                shape.Exit();
            }

            if (overflowed)
            {
                OnOverflow();
            }

            return decision;
        }
    }

    /// <remarks>Not inlined (see <see cref="DecideOne"/>).</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private RateLimitDecision DecideMany(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long now, long maxWaitMs)
    {
        int n = requests.Length;
        if (n <= SmallCallLength)
        {
            SmallCall<InMemoryCounter?> counters = default;
            SmallCall<InMemoryShape?> absent = default;
            SmallCall<InMemoryLock?> order = default;
            return DecideMany(
                requests,
                results,
                commit,
                now,
                maxWaitMs,
                ((Span<InMemoryCounter?>)counters)[..n],
                ((Span<InMemoryShape?>)absent)[..n],
                ((Span<InMemoryLock?>)order)[..n]);
        }

        InMemoryCounter?[] rentedCounters = ArrayPool<InMemoryCounter?>.Shared.Rent(n);
        InMemoryShape?[] rentedAbsent = ArrayPool<InMemoryShape?>.Shared.Rent(n);
        InMemoryLock?[] rentedOrder = ArrayPool<InMemoryLock?>.Shared.Rent(n);
        try
        {
            return DecideMany(requests, results, commit, now, maxWaitMs, rentedCounters.AsSpan(0, n), rentedAbsent.AsSpan(0, n), rentedOrder.AsSpan(0, n));
        }
        finally
        {
            Array.Clear(rentedCounters, 0, n);
            Array.Clear(rentedAbsent, 0, n);
            Array.Clear(rentedOrder, 0, n);
            ArrayPool<InMemoryCounter?>.Shared.Return(rentedCounters);
            ArrayPool<InMemoryShape?>.Shared.Return(rentedAbsent);
            ArrayPool<InMemoryLock?>.Shared.Return(rentedOrder);
        }
    }

    /// <summary>
    /// A call over several keys. Keys with a counter lock it; keys without one lock their shape, which is where they are
    /// decided and where their counter is created if the call is admitted. Everything is locked in ascending id order,
    /// so two multi-key acquires over the same keys cannot deadlock.
    /// </summary>
    private RateLimitDecision DecideMany(
        ReadOnlySpan<RateLimitRequest> requests,
        Span<RateLimitEntry> results,
        bool commit,
        long now,
        long maxWaitMs,
        Span<InMemoryCounter?> counters,
        Span<InMemoryShape?> absent,
        Span<InMemoryLock?> order)
    {
        int n = requests.Length;
        while (true)
        {
            bool anyAbsent = false;

            // A call on keys it has seen before finds its counters in the order they were created, which is usually the
            // order of its requests: then the locks are in ascending id order already and the sort is skipped.
            bool ascending = true;
            long lastId = long.MinValue;
            for (int i = 0; i < n; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                InMemoryShape shape = ShapeOf(request.Rule);
                InMemoryLock held;
                if (shape.TryGetCounter(request.Key, out InMemoryCounter? counter))
                {
                    counters[i] = counter;
                    absent[i] = null;
                    held = counter;
                }
                else
                {
                    counters[i] = null;
                    absent[i] = shape;
                    held = shape;
                    anyAbsent = true;
                }

                order[i] = held;
                ascending &= held.Id > lastId;
                lastId = held.Id;
            }

            if (anyAbsent && commit)
            {
                MakeRoom(now);
            }

            if (!ascending)
            {
                SortById(order);
            }
            int locked = 0;
            bool overflowed = false;
            bool decided = false;

            // Not a nullable: the evaluation's answer lands here and is returned from here, with no copy in between.
            RateLimitDecision decision = default;
            try
            {
                bool stale = false;
                bool distinct = true;
                for (; locked < n; locked++)
                {
                    // Sorted by id, so an object two requests share (a counter, or the shape of keys without one) is
                    // adjacent, and is taken once: the lock is not reentrant.
                    InMemoryLock held = order[locked]!;
                    if (locked != 0 && ReferenceEquals(held, order[locked - 1]))
                    {
                        distinct = false;
                        continue;
                    }

                    held.Enter();
                    stale |= held is InMemoryCounter { Removed: true };
                }

                for (int i = 0; i < n && !stale; i++)
                {
                    stale = absent[i] is { } shape && shape.Counters.ContainsKey(requests[i].Key);
                }

                if (!stale)
                {
                    if (maxWaitMs == NoReservation && commit && distinct && !anyAbsent && n <= SmallCallLength && results.Length >= n)
                    {
                        decision = EvaluateCounted(requests, results, counters, absent, now, ref overflowed);
                    }
                    else if (maxWaitMs == NoReservation)
                    {
                        decision = EvaluateMany(requests, results, counters, absent, commit, now, now, ref overflowed, distinct);
                    }
                    else
                    {
                        decision = ReserveMany(requests, results, counters, absent, now, maxWaitMs, ref overflowed);
                    }

                    decided = true;
                }
            }
            finally
            {
                for (int i = locked - 1; i >= 0; i--)
                {
                    if (i == 0 || !ReferenceEquals(order[i], order[i - 1]))
                    {
                        order[i]!.Exit();
                    }
                }
            }

            if (decided)
            {
                if (overflowed)
                {
                    OnOverflow();
                }

                return decision;
            }
        }
    }

    /// <summary>
    /// Puts the locks of a call in ascending id order. A typical call locks a handful (a message to a few recipients),
    /// often already nearly in order, so it is an insertion sort on the ids, with no comparison delegate; larger calls
    /// go to the library sort (a static lambda is cached; an IComparer would be wrapped in a new delegate by every sort).
    /// </summary>
    private static void SortById(Span<InMemoryLock?> order)
    {
        if (order.Length > SmallCallLength)
        {
            order.Sort(static (x, y) => x!.Id.CompareTo(y!.Id));
            return;
        }

        for (int i = 1; i < order.Length; i++)
        {
            InMemoryLock current = order[i]!;
            long id = current.Id;
            int j = i - 1;
            while (j >= 0 && order[j]!.Id > id)
            {
                order[j + 1] = order[j];
                j--;
            }

            order[j + 1] = current;
        }
    }

    /// <summary>Room for what a typical multi-key acquire (a message to a few recipients) locks, on the stack.</summary>
    [InlineArray(SmallCallLength)]
    private struct SmallCall<T>
    {
        private T _first;
    }
}
