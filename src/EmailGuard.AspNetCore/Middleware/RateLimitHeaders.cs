using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary><c>Retry-After</c> and the IETF <c>RateLimit-Policy</c>/<c>RateLimit</c> headers of the middleware's answers.</summary>
internal static class RateLimitHeaders
{
    /// <summary>Whole seconds, rounded up, so a client that waits exactly this long is admitted.</summary>
    public static long RetryAfterSeconds(TimeSpan retryAfter, RateLimitRule? rule)
    {
        if (retryAfter == TimeSpan.MaxValue)
        {
            retryAfter = rule?.Window ?? TimeSpan.FromSeconds(1);
        }

        long seconds = (retryAfter.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond;
        return Math.Max(1, seconds);
    }

    /// <summary>
    /// Sets the IETF <c>RateLimit-Policy</c> (every rule) and <c>RateLimit</c> (the denied rule, else the one closest to
    /// its limit) headers of draft-ietf-httpapi-ratelimit-headers.
    /// </summary>
    public static void SetQuotaHeaders(
        IHeaderDictionary headers, PartitionRequestOwner[] owners, RateLimitEntry[] entries, int count, RateLimitDecision decision, int deniedIndex)
    {
        var policyHeader = new StringBuilder();
        int tightest = deniedIndex;
        for (int i = 0; i < count; i++)
        {
            PartitionRequestOwner owner = owners[i];
            if (policyHeader.Length > 0)
            {
                policyHeader.Append(", ");
            }

            policyHeader.Append(owner.Partition.PolicyItems[owner.RuleIndex]);
            if (deniedIndex < 0 && (tightest < 0 || entries[i].Remaining < entries[tightest].Remaining))
            {
                tightest = i;
            }
        }

        PartitionRequestOwner chosen = owners[tightest];
        RateLimitEntry entry = entries[tightest];
        TimeSpan reset = deniedIndex >= 0 ? decision.RetryAfter : entry.ResetAt - decision.Timestamp;
        long resetSeconds = reset == TimeSpan.MaxValue
            ? (long)chosen.Partition.Rules[chosen.RuleIndex].Window.TotalSeconds
            : Math.Max(0, (reset.Ticks + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);
        long remaining = deniedIndex >= 0 ? 0 : entry.Remaining;
        headers["RateLimit-Policy"] = policyHeader.ToString();
        headers["RateLimit"] = string.Create(
            CultureInfo.InvariantCulture, $"{chosen.Partition.ItemNames[chosen.RuleIndex]};r={remaining};t={resetSeconds}");
    }
}
