namespace EmailGuard.AspNetCore;

/// <summary>
/// What warning 3118 tells the operator to change so that a policy counts the requests it now lets through uncounted.
/// It names only settings that would: <c>WhenValueMissing</c> applies to user, tenant, route value and key partitions
/// alone (set on a policy without one, it stops the start), and a shadow policy set to Reject leaves the partition out.
/// </summary>
internal static class UncountedAdvice
{
    public static string For(EmailRateLimitPolicy policy)
    {
        var advice = new List<string>();
        if (policy.HasValuePartition)
        {
            advice.Add(policy.ShadowMode && policy.MissingValue == MissingValueBehavior.Reject
                ? "set the policy's WhenValueMissing to ShareOneBucket (in shadow mode Reject leaves the partition out, as a shadow policy never blocks)"
                : "set the policy's WhenValueMissing to ShareOneBucket or Reject");
        }

        if (policy.FieldNames.Length != 0)
        {
            advice.Add("set the policy's WhenFieldMissing to Reject");
        }

        if (Array.Exists(policy.Partitions, p => p.Kind is PartitionKind.ClientIp or PartitionKind.ClientNetwork))
        {
            advice.Add($"set {EmailGuardEndpointOptions.ConfigurationSectionName}:MissingClientIp to ShareOneBucket or Reject");
        }
        else
        {
            advice.Add("add a partition every request has (PerClientIp)");
        }

        string text = string.Join(", or ", advice);
        return string.Concat(char.ToUpperInvariant(text[0]).ToString(), text.AsSpan(1), ".");
    }
}
