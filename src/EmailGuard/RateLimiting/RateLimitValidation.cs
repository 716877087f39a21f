namespace EmailGuard;

/// <summary>
/// The argument checks every <see cref="IRateLimitStore"/> runs first, so that bad input gets the same clear exception
/// from every store and is rejected before any counter moves.
/// </summary>
/// <remarks>
/// A store calls the method of the operation it implements before it does anything else; the shared contract suite
/// expects exactly these exceptions. The checks do not allocate unless they throw.
/// </remarks>
public static class RateLimitValidation
{
    /// <summary>The most requests one call may carry (a message to 2,000 recipients with its domains fits).</summary>
    public const int MaxRequestsPerCall = 4096;

    /// <summary>Checks the arguments of <see cref="IRateLimitStore.AcquireAsync"/>.</summary>
    /// <param name="requests">The requests: at most <see cref="MaxRequestsPerCall"/>, each with a valid key, a rule and a cost from 1 to <see cref="RateLimitRule.MaxLimit"/>.</param>
    /// <param name="resultsLength">The length of the results buffer: 0, or at least the number of requests.</param>
    /// <exception cref="ArgumentException">A request or the results buffer is invalid.</exception>
    public static void ValidateAcquire(ReadOnlySpan<RateLimitRequest> requests, int resultsLength)
        => ValidateRequests(requests, resultsLength, allowZeroCost: false);

    /// <summary>Checks the arguments of <see cref="IRateLimitStore.PeekAsync"/>: as for an acquire, but a cost may be 0.</summary>
    /// <param name="requests">The requests: at most <see cref="MaxRequestsPerCall"/>, each with a valid key, a rule and a cost from 0 to <see cref="RateLimitRule.MaxLimit"/>.</param>
    /// <param name="resultsLength">The length of the results buffer: 0, or at least the number of requests.</param>
    /// <exception cref="ArgumentException">A request or the results buffer is invalid.</exception>
    public static void ValidatePeek(ReadOnlySpan<RateLimitRequest> requests, int resultsLength)
        => ValidateRequests(requests, resultsLength, allowZeroCost: true);

    /// <summary>Checks the requests of <see cref="IRateLimitStore.RefundAsync"/>, which are those of the acquire.</summary>
    /// <param name="requests">The requests, as for an acquire.</param>
    /// <exception cref="ArgumentException">A request is invalid.</exception>
    public static void ValidateRefund(ReadOnlySpan<RateLimitRequest> requests)
        => ValidateRequests(requests, 0, allowZeroCost: false);

    /// <summary>Checks the arguments of <see cref="IRateLimitStore.ResetAsync"/>.</summary>
    /// <param name="key">The partition key: not empty or white space, at most <see cref="RateLimitRequest.MaxKeyLength"/> characters.</param>
    /// <param name="rule">The rule; not null.</param>
    /// <exception cref="ArgumentException">The key is invalid or the rule is null.</exception>
    public static void ValidateReset(string key, RateLimitRule rule)
    {
        ValidateKey(key, nameof(key));
        ArgumentNullException.ThrowIfNull(rule);
    }

    /// <summary>Checks the maximum wait of <see cref="IRateLimitStore.ReserveAsync"/> and returns it in whole milliseconds (rounded down).</summary>
    /// <param name="maxWait">How far ahead a slot may be reserved: from zero to <see cref="RateLimitRule.MaxWindow"/>.</param>
    /// <returns>The maximum wait in milliseconds.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The wait is negative or longer than <see cref="RateLimitRule.MaxWindow"/>.</exception>
    public static long ValidateMaxWait(TimeSpan maxWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxWait, RateLimitRule.MaxWindow);
        return maxWait.Ticks / TimeSpan.TicksPerMillisecond;
    }

    internal static void ValidateRequests(ReadOnlySpan<RateLimitRequest> requests, int resultsLength, bool allowZeroCost)
    {
        if (requests.Length > MaxRequestsPerCall)
        {
            throw new ArgumentException(
                $"An acquire may carry at most {MaxRequestsPerCall} requests; it carried {requests.Length}.", nameof(requests));
        }

        if (resultsLength != 0 && resultsLength < requests.Length)
        {
#pragma warning disable CA2208 // "results" is the name of the public store method's parameter this checks.
            throw new ArgumentException(
                $"The results buffer holds {resultsLength} entries but {requests.Length} requests were passed; pass an empty buffer or one at least as long.",
                "results");
#pragma warning restore CA2208
        }

        // Every acquire runs this over every request: a request that is plainly valid (a key that starts with no white
        // space) costs a few comparisons here, and anything else gets the full checks, which throw what they always threw.
        long minimum = allowZeroCost ? 0 : 1;
        for (int i = 0; i < requests.Length; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            string? key = request.Key;
            if (key is null || key.Length == 0 || key.Length > RateLimitRequest.MaxKeyLength || char.IsWhiteSpace(key[0])
                || request.Rule is null || request.Cost < minimum || request.Cost > RateLimitRule.MaxLimit)
            {
                ValidateRequest(requests, i, minimum);
            }
        }
    }

    /// <summary>The checks of one request, in the order they are reported; returns when the request is valid after all (a key that only starts with white space).</summary>
    private static void ValidateRequest(ReadOnlySpan<RateLimitRequest> requests, int index, long minimum)
    {
        ref readonly RateLimitRequest request = ref requests[index];
        ValidateKey(request.Key, nameof(requests), index);
        if (request.Rule is null)
        {
            throw new ArgumentException($"requests[{index}].Rule is null.", nameof(requests));
        }

        if (request.Cost < minimum)
        {
            throw new ArgumentOutOfRangeException(
                nameof(requests), request.Cost, $"requests[{index}].Cost must be at least {minimum}.");
        }

        if (request.Cost > RateLimitRule.MaxLimit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(requests), request.Cost, $"requests[{index}].Cost must be at most {RateLimitRule.MaxLimit}.");
        }
    }

    internal static void ValidateKey(string? key, string paramName, int index = -1)
    {
        if (string.IsNullOrWhiteSpace(key))
        {
            throw new ArgumentException($"{KeyName(paramName, index)} is null, empty or white space.", paramName);
        }

        if (key.Length > RateLimitRequest.MaxKeyLength)
        {
            throw new ArgumentException(
                $"{KeyName(paramName, index)} is {key.Length} characters long; keys are at most {RateLimitRequest.MaxKeyLength}. Hash long values before using them as keys.",
                paramName);
        }
    }

    // Built only when throwing: every acquire validates its keys, and the hot path must not allocate.
    private static string KeyName(string paramName, int index) => index < 0 ? paramName : $"{paramName}[{index}].Key";
}
