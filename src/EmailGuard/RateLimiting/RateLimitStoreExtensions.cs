namespace EmailGuard;

/// <summary>
/// Conveniences over <see cref="IRateLimitStore"/> for callers that do not manage their own buffers: a single key, or
/// a list of requests. They allocate per call; hot paths should call the store with reused buffers instead.
/// </summary>
/// <remarks>
/// The list overloads take a required <see cref="CancellationToken"/> so that only the single-key overloads carry
/// optional parameters, which keeps later additions binary compatible.
/// </remarks>
public static class RateLimitStoreExtensions
{
    /// <summary>Takes <paramref name="cost"/> permits of <paramref name="rule"/> on <paramref name="key"/> if they fit.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The partition key.</param>
    /// <param name="rule">The rule that applies to the key.</param>
    /// <param name="cost">The permits to take, at least 1.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The decision and the key's entry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="rule"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty, white space or too long.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is below 1.</exception>
    public static ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)> AcquireAsync(
        this IRateLimitStore store, string key, RateLimitRule rule, long cost = 1, CancellationToken cancellationToken = default)
    {
        RateLimitRequest[] requests = SingleRequest(store, key, rule, cost, minimumCost: 1);
        return DecideOneAsync(store, requests, commit: true, cancellationToken);
    }

    /// <summary>Decides as an acquire of <paramref name="cost"/> permits would, but takes nothing.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The partition key.</param>
    /// <param name="rule">The rule that applies to the key.</param>
    /// <param name="cost">The permits to ask about; 0 reads the current usage.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The decision and the key's entry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="rule"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty, white space or too long.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cost"/> is negative.</exception>
    public static ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)> PeekAsync(
        this IRateLimitStore store, string key, RateLimitRule rule, long cost = 0, CancellationToken cancellationToken = default)
    {
        RateLimitRequest[] requests = SingleRequest(store, key, rule, cost, minimumCost: 0);
        return DecideOneAsync(store, requests, commit: false, cancellationToken);
    }

    /// <summary>Takes every request's cost if every rule has room for it, else takes nothing.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests; a key may appear more than once, and its costs add up.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The decision; per-request entries are not reported.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="requests"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A request is invalid.</exception>
    public static ValueTask<RateLimitDecision> AcquireAsync(
        this IRateLimitStore store, IReadOnlyList<RateLimitRequest> requests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(requests);
        return store.AcquireAsync(ToArray(requests), Memory<RateLimitEntry>.Empty, cancellationToken);
    }

    /// <summary>Decides as <see cref="AcquireAsync(IRateLimitStore, IReadOnlyList{RateLimitRequest}, CancellationToken)"/> would, but takes nothing.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests; costs may be 0.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What an acquire would decide now.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="requests"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A request is invalid.</exception>
    public static ValueTask<RateLimitDecision> PeekAsync(
        this IRateLimitStore store, IReadOnlyList<RateLimitRequest> requests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(requests);
        return store.PeekAsync(ToArray(requests), Memory<RateLimitEntry>.Empty, cancellationToken);
    }

    /// <summary>Gives back the permits of an admitted acquire, at most once per acquire.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests that were admitted, with the same costs.</param>
    /// <param name="decision">The admitted decision.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether this call refunded the acquire (see <see cref="IRateLimitStore.RefundAsync"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> or <paramref name="requests"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A request is invalid.</exception>
    public static ValueTask<bool> RefundAsync(
        this IRateLimitStore store, IReadOnlyList<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(requests);
        return store.RefundAsync(ToArray(requests), decision, cancellationToken);
    }

    private static RateLimitRequest[] SingleRequest(IRateLimitStore store, string key, RateLimitRule rule, long cost, long minimumCost)
    {
        ArgumentNullException.ThrowIfNull(store);
        RateLimitValidation.ValidateKey(key, nameof(key));
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentOutOfRangeException.ThrowIfLessThan(cost, minimumCost);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cost, RateLimitRule.MaxLimit);
        return [new RateLimitRequest(key, rule, cost)];
    }

    private static async ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)> DecideOneAsync(
        IRateLimitStore store, RateLimitRequest[] requests, bool commit, CancellationToken cancellationToken)
    {
        RateLimitEntry[] results = new RateLimitEntry[1];
        RateLimitDecision decision = commit
            ? await store.AcquireAsync(requests, results, cancellationToken).ConfigureAwait(false)
            : await store.PeekAsync(requests, results, cancellationToken).ConfigureAwait(false);
        return (decision, results[0]);
    }

    private static RateLimitRequest[] ToArray(IReadOnlyList<RateLimitRequest> requests)
    {
        if (requests is RateLimitRequest[] array)
        {
            return array;
        }

        RateLimitRequest[] copy = new RateLimitRequest[requests.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i] = requests[i];
        }

        return copy;
    }
}
