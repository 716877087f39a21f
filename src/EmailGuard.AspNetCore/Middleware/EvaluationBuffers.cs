using System.Buffers;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The request, entry and owner arrays of one evaluation. Up to <see cref="KeptCapacity"/> requests they are one set per
/// thread, taken and put back with a thread-static read and write, where three pool rents and returns cost several
/// times that on every request; larger evaluations (many recipients) rent from the shared pool as before.
/// </summary>
internal sealed class EvaluationBuffers
{
    /// <summary>The most requests of an evaluation served by the thread's set.</summary>
    internal const int KeptCapacity = 16;

    [ThreadStatic]
    private static EvaluationBuffers? t_kept;

    private readonly bool _pooled;

    private EvaluationBuffers(RateLimitRequest[] requests, RateLimitEntry[] entries, PartitionRequestOwner[] owners, bool pooled)
    {
        Requests = requests;
        Entries = entries;
        Owners = owners;
        _pooled = pooled;
    }

    public RateLimitRequest[] Requests { get; }

    public RateLimitEntry[] Entries { get; }

    public PartitionRequestOwner[] Owners { get; }

    /// <summary>Gets arrays of at least <paramref name="capacity"/> elements, which only the caller uses until <see cref="Return"/>.</summary>
    public static EvaluationBuffers Rent(int capacity)
    {
        if (capacity > KeptCapacity)
        {
            return new EvaluationBuffers(
                ArrayPool<RateLimitRequest>.Shared.Rent(capacity),
                ArrayPool<RateLimitEntry>.Shared.Rent(capacity),
                ArrayPool<PartitionRequestOwner>.Shared.Rent(capacity),
                pooled: true);
        }

        // An evaluation that resumed on another thread put its set back there: this thread makes a new one once.
        EvaluationBuffers? kept = t_kept;
        if (kept is null)
        {
            return new EvaluationBuffers(new RateLimitRequest[KeptCapacity], new RateLimitEntry[KeptCapacity], new PartitionRequestOwner[KeptCapacity], pooled: false);
        }

        t_kept = null;
        return kept;
    }

    /// <summary>Clears the requests and owners (they hold keys and policies) and gives the arrays back.</summary>
    public void Return()
    {
        if (_pooled)
        {
            ArrayPool<RateLimitRequest>.Shared.Return(Requests, clearArray: true);
            ArrayPool<RateLimitEntry>.Shared.Return(Entries);
            ArrayPool<PartitionRequestOwner>.Shared.Return(Owners, clearArray: true);
            return;
        }

        // All of them, not the count filled: an evaluation that threw part way filled more than it counted.
        Array.Clear(Requests);
        Array.Clear(Owners);
        t_kept = this;
    }
}
