namespace EmailGuard;

/// <summary>
/// Argument checks shared by every store, so that bad input gets the same clear exception everywhere and is rejected
/// before any counter moves.
/// </summary>
internal static class RateLimitValidation
{
    /// <summary>The most requests one call may carry (a message to 2,000 recipients with its domains fits).</summary>
    public const int MaxRequestsPerCall = 4096;

    public static void ValidateRequests(ReadOnlySpan<RateLimitRequest> requests, int resultsLength, bool allowZeroCost)
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

        for (int i = 0; i < requests.Length; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            ValidateKey(request.Key, nameof(requests), i);
            if (request.Rule is null)
            {
                throw new ArgumentException($"requests[{i}].Rule is null.", nameof(requests));
            }

            long minimum = allowZeroCost ? 0 : 1;
            if (request.Cost < minimum)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(requests), request.Cost, $"requests[{i}].Cost must be at least {minimum}.");
            }

            if (request.Cost > RateLimitRule.MaxLimit)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(requests), request.Cost, $"requests[{i}].Cost must be at most {RateLimitRule.MaxLimit}.");
            }
        }
    }

    public static void ValidateKey(string? key, string paramName, int index = -1)
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
