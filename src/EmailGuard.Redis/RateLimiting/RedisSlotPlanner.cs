using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Plans an acquire on Redis Cluster: which requests one script can take together. Every counter of one partition
/// shares a hash tag (see <see cref="RedisCounterKey"/>), so a call about one partition is always one script; a call
/// about several is split by hash slot.
/// </summary>
internal static class RedisSlotPlanner
{
    /// <summary>Whether every request names the same partition, and so the same hash slot.</summary>
    /// <param name="requests">The requests.</param>
    /// <returns>True when one script can take them all, whatever the server.</returns>
    public static bool IsOnePartition(ReadOnlySpan<RateLimitRequest> requests)
    {
        for (int i = 1; i < requests.Length; i++)
        {
            if (!string.Equals(requests[i].Key, requests[0].Key, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Returns the keys' indexes grouped by hash slot (groups in ascending slot order, so two acquires over the same
    /// slots contend in the same sequence; indexes in call order), or <see langword="null"/> when they share one slot.
    /// </summary>
    /// <param name="keys">The counters' keys, one per request.</param>
    /// <param name="multiplexer">The cluster connection, which knows the slot of a key.</param>
    /// <returns>The groups, or null for a single slot.</returns>
    public static List<int[]>? GroupBySlot(RedisKey[] keys, IConnectionMultiplexer multiplexer)
    {
        int[] slots = new int[keys.Length];
        bool oneSlot = true;
        for (int i = 0; i < keys.Length; i++)
        {
            slots[i] = multiplexer.HashSlot(keys[i]);
            oneSlot &= slots[i] == slots[0];
        }

        if (oneSlot)
        {
            return null;
        }

        SortedDictionary<int, List<int>> bySlot = [];
        for (int i = 0; i < slots.Length; i++)
        {
            if (!bySlot.TryGetValue(slots[i], out List<int>? members))
            {
                members = [];
                bySlot.Add(slots[i], members);
            }

            members.Add(i);
        }

        List<int[]> groups = new(bySlot.Count);
        foreach (List<int> members in bySlot.Values)
        {
            groups.Add([.. members]);
        }

        return groups;
    }
}
