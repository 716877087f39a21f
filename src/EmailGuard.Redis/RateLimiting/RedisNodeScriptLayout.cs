using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The call layout of the node script (<see cref="RedisRateLimitStore.AcquireManyAcrossSlotsScriptText"/>): its keys
/// span hash slots of one cluster node, which a declared key list may not (StackExchange.Redis and Redis both refuse
/// declared keys of several slots), so it declares only its first key, which routes the call to the node, and passes
/// every key as an argument.
/// </summary>
internal static class RedisNodeScriptLayout
{
    /// <summary>Moves the keys of a batch script call into its arguments: ARGV becomes the key count, the keys, then the arguments.</summary>
    /// <param name="keys">The batch's keys, every member's in order; at least one.</param>
    /// <param name="arguments">The batch's arguments.</param>
    /// <returns>The key that routes the call, alone, and the arguments that carry every key.</returns>
    public static (RedisKey[] Keys, RedisValue[] Arguments) Pack(RedisKey[] keys, RedisValue[] arguments)
    {
        RedisValue[] packed = new RedisValue[1 + keys.Length + arguments.Length];
        packed[0] = keys.Length;
        for (int i = 0; i < keys.Length; i++)
        {
            packed[1 + i] = (string?)keys[i];
        }

        arguments.CopyTo(packed, 1 + keys.Length);
        return ([keys[0]], packed);
    }
}
