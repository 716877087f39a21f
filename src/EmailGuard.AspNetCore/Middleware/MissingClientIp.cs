namespace EmailGuard.AspNetCore;

/// <summary>What a request without <c>Connection.RemoteIpAddress</c> is counted as, per <see cref="MissingClientIpBehavior"/>.</summary>
internal static class MissingClientIp
{
    /// <summary>The one bucket such requests share under <see cref="MissingClientIpBehavior.ShareOneBucket"/>.</summary>
    public const string SharedPartition = "unknown";

    /// <summary>The partition value: the shared bucket, or empty to leave the client-IP partition out.</summary>
    /// <remarks>
    /// Under <see cref="MissingClientIpBehavior.Reject"/> only requests that no enforced policy counts per IP get this
    /// far (shadow policies record, never block), and they share the bucket.
    /// </remarks>
    public static string Partition(EmailGuardEndpointOptions options)
        => options.MissingClientIp == MissingClientIpBehavior.Skip ? string.Empty : SharedPartition;

    /// <summary>Whether an enforced (not shadow) policy or path rule of this request counts per client IP.</summary>
    public static bool IsRequired(EmailRateLimitPolicy? pathRule, EmailRateLimitPolicy? policy)
        => pathRule is { HasClientIpPartition: true, ShadowMode: false } || policy is { HasClientIpPartition: true, ShadowMode: false };

    public static void Validate(EmailGuardEndpointOptions options, List<string> errors)
    {
        // The binder turns any number into the enum.
        if (!Enum.IsDefined(options.MissingClientIp))
        {
            errors.Add($"{EmailGuardEndpointOptions.ConfigurationSectionName}:MissingClientIp is not Reject, ShareOneBucket or Skip.");
        }
    }
}
