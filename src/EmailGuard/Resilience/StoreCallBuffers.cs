using System.Buffers;

namespace EmailGuard;

/// <summary>
/// Private copies of a caller's request and result buffers for one store call. A call that times out is abandoned,
/// not stopped: the store may still read the requests and write results later, after the caller has reused its own
/// buffers. The copies are returned to the pool only once the store is done with them.
/// </summary>
internal readonly struct StoreCallBuffers
{
    private readonly RateLimitRequest[]? _requests;
    private readonly RateLimitEntry[]? _results;
    private readonly int _requestCount;
    private readonly int _resultCount;

    private StoreCallBuffers(RateLimitRequest[]? requests, int requestCount, RateLimitEntry[]? results, int resultCount)
    {
        _requests = requests;
        _requestCount = requestCount;
        _results = results;
        _resultCount = resultCount;
    }

    public ReadOnlyMemory<RateLimitRequest> Requests => _requests is null ? default : _requests.AsMemory(0, _requestCount);

    public Memory<RateLimitEntry> Results => _results is null ? default : _results.AsMemory(0, _resultCount);

    public static StoreCallBuffers Rent(ReadOnlySpan<RateLimitRequest> requests, int resultCount)
    {
        RateLimitRequest[]? requestCopy = null;
        if (!requests.IsEmpty)
        {
            requestCopy = ArrayPool<RateLimitRequest>.Shared.Rent(requests.Length);
            requests.CopyTo(requestCopy);
        }

        RateLimitEntry[]? resultCopy = resultCount == 0 ? null : ArrayPool<RateLimitEntry>.Shared.Rent(resultCount);
        return new StoreCallBuffers(requestCopy, requests.Length, resultCopy, resultCount);
    }

    public void CopyResultsTo(Span<RateLimitEntry> results)
    {
        if (_results is not null)
        {
            _results.AsSpan(0, _resultCount).CopyTo(results);
        }
    }

    public void Return()
    {
        if (_requests is not null)
        {
            // The requests hold keys and rules; clear them so the pool does not keep them alive.
            Array.Clear(_requests, 0, _requestCount);
            ArrayPool<RateLimitRequest>.Shared.Return(_requests);
        }

        if (_results is not null)
        {
            ArrayPool<RateLimitEntry>.Shared.Return(_results);
        }
    }
}
