namespace EmailGuard.AspNetCore;

/// <summary>
/// Finds policies, or partitions of one policy, whose names differ but whose counters would be the same store keys.
/// A name's characters other than ASCII letters, digits, <c>-</c>, <c>_</c>, <c>.</c>, <c>/</c> and <c>*</c> become
/// <c>_</c> in its keys (<see cref="EmailRateLimitPartition.Sanitize"/>), so policies <c>sign up</c> and <c>sign_up</c>
/// counted every request of either in one budget, without a word.
/// </summary>
internal static class SharedCounterCheck
{
    /// <summary>Adds a failure to <paramref name="errors"/> for each pair of differently named partitions with one key prefix.</summary>
    /// <param name="policies">The compiled policies (or path rules) of one set.</param>
    /// <param name="setting">The setting the failures name, e.g. <c>EmailGuard:Endpoints:Policies</c>.</param>
    /// <param name="kind">What the set holds, for the message: "endpoint policies" or "path rules".</param>
    /// <param name="errors">Where the failures go.</param>
    public static void Find(IEnumerable<EmailRateLimitPolicy> policies, string setting, string kind, List<string> errors)
    {
        var owners = new Dictionary<string, (string Policy, string? Partition)>(StringComparer.Ordinal);
        foreach (EmailRateLimitPolicy policy in policies)
        {
            foreach (EmailRateLimitPartition partition in policy.Partitions)
            {
                if (!owners.TryAdd(partition.KeyPrefix, (policy.Name, partition.Name)))
                {
                    (string otherPolicy, string? otherPartition) = owners[partition.KeyPrefix];
                    string which = string.Equals(otherPolicy, policy.Name, StringComparison.Ordinal)
                        ? $"the '{partition.KindTag}' partitions '{LogValue.Of(otherPartition)}' and '{LogValue.Of(partition.Name)}' of the endpoint policy '{LogValue.Of(policy.Name)}'"
                        : $"the {kind} '{LogValue.Of(otherPolicy)}' and '{LogValue.Of(policy.Name)}'";
                    errors.Add(
                        $"{setting}: {which} would count in the same counters (store keys {partition.KeyPrefix}…): a name's characters other than " +
                        "ASCII letters, digits, '-', '_', '.', '/' and '*' become '_' in its keys; rename one.");
                }
            }
        }
    }
}
