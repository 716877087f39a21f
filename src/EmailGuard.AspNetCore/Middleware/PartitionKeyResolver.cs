using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Turns a policy's partitions into the store requests of one HTTP request: one per rule per resolved key.</summary>
internal static class PartitionKeyResolver
{
    /// <summary>
    /// Adds the requests of <paramref name="policy"/> and returns the new count. <paramref name="ipPartition"/> is the
    /// client's network, resolved once per HTTP request and shared by every policy; <paramref name="missing"/> notes a
    /// field or value the request lacks when the policy rejects that (a shadow policy never does).
    /// </summary>
    public static int AddRequests(
        HttpContext context, EndpointGuardState state, EmailRateLimitPolicy policy, string[][]? fieldValues,
        RateLimitRequest[] requests, PartitionRequestOwner[] owners, int count, ref string? ipPartition, ref MissingValues missing)
    {
        foreach (EmailRateLimitPartition partition in policy.Partitions)
        {
            string? key;
            switch (partition.Kind)
            {
                case PartitionKind.ClientIp:
                    ipPartition ??= GetIpPartition(context, state.Options);
                    if (ipPartition.Length == 0)
                    {
                        continue;
                    }

                    key = partition.KeyFor(ipPartition);
                    break;
                case PartitionKind.ClientNetwork:
                    string network = GetNetwork(context, state.Options, partition.IPv4PrefixLength, partition.IPv6PrefixLength);
                    if (network.Length == 0)
                    {
                        continue;
                    }

                    key = partition.KeyFor(network);
                    break;
                case PartitionKind.Field:
                    string[] hashed = fieldValues?[Array.FindIndex(policy.FieldNames, f => f.Equals(partition.Name, StringComparison.OrdinalIgnoreCase))] ?? [];
                    if (hashed.Length == 0)
                    {
                        // A shadow policy records, never blocks: it leaves the partition out, as Skip does.
                        missing.Field |= policy.MissingField == MissingFieldBehavior.Reject && !policy.ShadowMode;
                        continue;
                    }

                    // Every address but the last gets its own requests here; the last falls through like any key.
                    for (int v = 0; v < hashed.Length - 1; v++)
                    {
                        count = AddPartitionRequests(policy, partition, string.Concat(partition.KeyPrefix, hashed[v]), requests, owners, count);
                    }

                    key = string.Concat(partition.KeyPrefix, hashed[^1]);
                    break;
                default:
                    if (partition.Copies?.Invoke(context) is { Count: > 1 } copies && AddEachCopy(policy, partition, copies, requests, owners, ref count))
                    {
                        continue;
                    }

                    string? resolved = partition.Resolver!(context);
                    if (string.IsNullOrEmpty(resolved))
                    {
                        if (policy.MissingValue == MissingValueBehavior.ShareOneBucket)
                        {
                            // The key of a value that folds to nothing (below): no value is no more a party than a blank one.
                            key = partition.KeyPrefix;
                            break;
                        }

                        // A shadow policy records, never blocks: it leaves the partition out, as Skip does.
                        if (policy.MissingValue == MissingValueBehavior.Reject && !policy.ShadowMode && missing.Partition is null)
                        {
                            missing.Partition = partition;
                            missing.Policy = policy;
                        }

                        continue;
                    }

                    // A value that folds to nothing (white space, invisible characters) is still counted, on the one
                    // key all such values share: left out, it would pass every limit of its partition.
                    key = partition.ValueKey(resolved);
                    break;
            }

            count = AddPartitionRequests(policy, partition, key, requests, owners, count);
        }

        return count;
    }

    /// <summary>
    /// How many requests beyond one per rule <paramref name="policy"/>'s partitions may add for <paramref name="context"/>:
    /// those of the copies of a header sent more than once (<see cref="AddEachCopy"/>).
    /// </summary>
    public static int ExtraRequests(HttpContext context, EmailRateLimitPolicy? policy)
    {
        int extra = 0;
        if (policy is not null)
        {
            foreach (EmailRateLimitPartition partition in policy.Partitions)
            {
                if (partition.Copies?.Invoke(context) is { Count: > 1 } copies)
                {
                    extra += (Math.Min(copies.Count, MaxCopiesCounted + 1) - 1) * partition.Rules.Length;
                }
            }
        }

        return extra;
    }

    /// <summary>The most distinct copies of a repeated header counted each on its own counter.</summary>
    internal const int MaxCopiesCounted = 16;

    /// <summary>
    /// Counts each distinct copy of a header sent more than once, and returns whether any copy had a value. The app may
    /// act on any of them: binding joins the copies (<c>[FromHeader] string</c>, <c>(string)Request.Headers[name]</c>), a
    /// tenant resolver often takes the first, some the last; counted under the first alone, a decoy first copy, fresh on
    /// every request, passed the limit of the tenant named after it. Past <see cref="MaxCopiesCounted"/> distinct copies,
    /// which no honest client sends, the request counts in the partition's shared bucket too (the one of a value that
    /// folds to nothing), so that copies beyond the bound cannot carry a tenant past its limit either.
    /// </summary>
    private static bool AddEachCopy(
        EmailRateLimitPolicy policy, EmailRateLimitPartition partition, Microsoft.Extensions.Primitives.StringValues copies,
        RateLimitRequest[] requests, PartitionRequestOwner[] owners, ref int count)
    {
        string[] keys = new string[MaxCopiesCounted];
        int counted = 0;
        bool more = false;
        foreach (string? copy in copies)
        {
            if (string.IsNullOrEmpty(copy))
            {
                continue;
            }

            string key = partition.ValueKey(copy);
            if (Array.IndexOf(keys, key, 0, counted) >= 0)
            {
                // One tenant in two spellings (or twice) is one counter, spent once.
                continue;
            }

            if (counted == keys.Length)
            {
                more = true;
                break;
            }

            keys[counted++] = key;
            count = AddPartitionRequests(policy, partition, key, requests, owners, count);
        }

        if (more && Array.IndexOf(keys, partition.KeyPrefix, 0, counted) < 0)
        {
            count = AddPartitionRequests(policy, partition, partition.KeyPrefix, requests, owners, count);
        }

        return counted > 0;
    }

    /// <summary>The client's network, or for a request without one what <see cref="MissingClientIpBehavior"/> says:
    /// one shared bucket, or empty to leave the partition out.</summary>
    public static string GetIpPartition(HttpContext context, EmailGuardEndpointOptions options)
        => GetNetwork(context, options, options.IPv4PrefixLength, options.IPv6PrefixLength);

    /// <summary>As <see cref="GetIpPartition"/>, with the prefix lengths given rather than the options' (a <see cref="PartitionKind.ClientNetwork"/> partition's).</summary>
    private static string GetNetwork(HttpContext context, EmailGuardEndpointOptions options, int ipv4PrefixLength, int ipv6PrefixLength)
    {
        System.Net.IPAddress? address = context.Connection.RemoteIpAddress;
        return address is null
            ? MissingClientIp.Partition(options)
            : IpAddressGrouping.GetPartition(address, ipv6PrefixLength, ipv4PrefixLength);
    }

    private static int AddPartitionRequests(
        EmailRateLimitPolicy policy, EmailRateLimitPartition partition, string key, RateLimitRequest[] requests, PartitionRequestOwner[] owners, int count)
    {
        if (key.Length > RateLimitRequest.MaxKeyLength)
        {
            key = "eg:ep:h:" + StoreKeyEncoding.Hash(key);
        }

        for (int i = 0; i < partition.Rules.Length; i++)
        {
            requests[count] = new RateLimitRequest(key, partition.Rules[i]);
            owners[count] = new PartitionRequestOwner(policy, partition, i);
            count++;
        }

        return count;
    }
}
