namespace EmailGuard;

/// <summary>
/// A store that is up and reachable could not decide a call in time because the data it needs is moving: for example
/// a Redis Cluster slot being resharded, whose counters are half on the old node and half on the new one. The store
/// retried for as long as the call may take, and nothing was counted.
/// </summary>
/// <remarks>
/// Throw it from a store only when nothing was taken and the backend is healthy. The resilience layer does not count it
/// as a store failure (the circuit stays closed), and answers the call
/// <see cref="RateLimitStatus.StoreUnavailable"/> whatever the policy's <see cref="StoreFailureMode"/>: admitting
/// unguarded, or against a local share, while the shared counter exists and is merely in transit could pass the limit.
/// </remarks>
public sealed class RateLimitStoreBusyException : Exception
{
    /// <summary>Initializes the exception with a generic message.</summary>
    public RateLimitStoreBusyException()
        : base("The rate-limit store is busy moving the data this call needs; nothing was counted.")
    {
    }

    /// <summary>Initializes the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public RateLimitStoreBusyException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes the exception with a message and the last answer of the backend.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The backend's last refusal.</param>
    public RateLimitStoreBusyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
