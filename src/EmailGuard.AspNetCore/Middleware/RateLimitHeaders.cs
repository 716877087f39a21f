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
        int tightest = deniedIndex;
        for (int i = 0; i < count && deniedIndex < 0; i++)
        {
            if (tightest < 0 || entries[i].Remaining < entries[tightest].Remaining)
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
        string itemName = chosen.Partition.ItemNames[chosen.RuleIndex];
        headers["RateLimit-Policy"] = PolicyHeader(owners, count);

        // A denial's value changes once a second; an admission's remaining quota changes with every request.
        headers["RateLimit"] = deniedIndex >= 0
            ? chosen.Partition.DeniedHeaders[chosen.RuleIndex].Get(itemName, resetSeconds)
            : DeniedQuotaHeader.Format(itemName, entry.Remaining, resetSeconds);
    }

    /// <summary>Every rule's item, comma separated; a single rule's item is the precomputed string itself.</summary>
    private static string PolicyHeader(PartitionRequestOwner[] owners, int count)
    {
        if (count == 1)
        {
            return owners[0].Partition.PolicyItems[owners[0].RuleIndex];
        }

        int length = 2 * (count - 1);
        for (int i = 0; i < count; i++)
        {
            length += owners[i].Partition.PolicyItems[owners[i].RuleIndex].Length;
        }

        return string.Create(length, (owners, count), static (span, state) =>
        {
            for (int i = 0; i < state.count; i++)
            {
                if (i > 0)
                {
                    ", ".CopyTo(span);
                    span = span[2..];
                }

                string item = state.owners[i].Partition.PolicyItems[state.owners[i].RuleIndex];
                item.CopyTo(span);
                span = span[item.Length..];
            }
        });
    }
}
