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
                    key = string.Concat(partition.KeyPrefix, StoreKeyEncoding.EncodeValue(partition.CanonicalValue(resolved)));
                    break;
            }

            count = AddPartitionRequests(policy, partition, key, requests, owners, count);
        }

        return count;
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
