using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// The acquisitions the in-memory store has refunded, each kept until its permits can no longer count, so that a
/// decision (a value that may have been copied) is refunded at most once.
/// </summary>
/// <remarks>
/// Only refunds add entries, so the hot path never touches this. The ledger is bounded: when it is full even after
/// dropping expired entries, a refund is refused, which only keeps a limit stricter.
/// </remarks>
internal sealed class InMemoryRefundLedger(int capacity)
{
    private readonly ConcurrentDictionary<long, long> _refunded = new();
    private int _count;

    /// <summary>The acquisitions remembered now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Claims the refund of one acquisition; false when it was refunded before or there is no room to remember it.</summary>
    /// <param name="acquisitionId">The decision's <see cref="RateLimitDecision.AcquisitionId"/>.</param>
    /// <param name="expiresAtMs">When every permit of the acquisition has left its window.</param>
    /// <param name="nowMs">The store's clock.</param>
    public bool TryClaim(long acquisitionId, long expiresAtMs, long nowMs)
    {
        if (Volatile.Read(ref _count) >= capacity && Purge(nowMs) == 0)
        {
            return false;
        }

        if (!_refunded.TryAdd(acquisitionId, expiresAtMs))
        {
            return false;
        }

        Interlocked.Increment(ref _count);
        return true;
    }

    /// <summary>Forgets acquisitions whose permits have all left their windows; a refund of them gives nothing back anyway.</summary>
    public int Purge(long nowMs)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return 0;
        }

        int removed = 0;
        foreach (KeyValuePair<long, long> entry in _refunded)
        {
            if (entry.Value <= nowMs && _refunded.TryRemove(entry))
            {
                Interlocked.Decrement(ref _count);
                removed++;
            }
        }

        return removed;
    }
}
