using System.Runtime.CompilerServices;

namespace EmailGuard.Redis;

/// <summary>
/// The counter names (<see cref="RedisCounterKey.Create"/>) of a store's multi-key acquires, found again by the
/// identity of the partition key and rule shape strings they were built from: a guard check names the same six
/// counters, from the same cached key strings, message after message, and building a name hashes its partition key
/// character by character and allocates the name.
/// </summary>
/// <remarks>
/// <para>A slot is chosen from the strings' identity hashes, so a lookup reads no characters; a hit is a name built
/// from strings of the same identity, hence of the same characters, and the same window index: the very name
/// <see cref="RedisCounterKey.Create"/> would build. Callers whose key strings are new objects every call (an
/// acquire over keys built per request) never hit, and pay a slot's compare and an entry of 40 bytes per counter.</para>
/// <para>Direct-mapped, <see cref="Slots"/> slots, the last name found in a slot wins: at most that many names are
/// kept alive. Entries are immutable and published whole, so a reader sees a slot's old entry or its new one.</para>
/// </remarks>
internal sealed class RedisCounterKeyCache(string prefix)
{
    /// <summary>The slots: enough for a guard's six dimensions over a thousand or so recipients and users.</summary>
    internal const int Slots = 2048;

    private readonly Entry?[] _entries = new Entry?[Slots];

    /// <summary>The name of the counter of <paramref name="partitionKey"/> under the rule shape <paramref name="ruleId"/> in window <paramref name="windowIndex"/>.</summary>
    public string Get(string partitionKey, string ruleId, long windowIndex)
    {
        int slot = (RuntimeHelpers.GetHashCode(partitionKey) ^ (RuntimeHelpers.GetHashCode(ruleId) * 31)) & (Slots - 1);
        Entry? entry = Volatile.Read(ref _entries[slot]);
        if (entry is not null && ReferenceEquals(entry.PartitionKey, partitionKey) && ReferenceEquals(entry.RuleId, ruleId) && entry.WindowIndex == windowIndex)
        {
            return entry.Name;
        }

        string name = RedisCounterKey.Create(prefix, partitionKey, ruleId, windowIndex);
        Volatile.Write(ref _entries[slot], new Entry(partitionKey, ruleId, windowIndex, name));
        return name;
    }

    private sealed class Entry(string partitionKey, string ruleId, long windowIndex, string name)
    {
        public readonly string PartitionKey = partitionKey;
        public readonly string RuleId = ruleId;
        public readonly long WindowIndex = windowIndex;
        public readonly string Name = name;
    }
}
