using System.Runtime.CompilerServices;

namespace EmailGuard.Redis;

/// <summary>
/// The counter names (<see cref="RedisCounterKey.Create"/>) of a store's multi-key acquires, found again by the
/// identity of the partition key and rule shape strings they were built from: a guard check names the same six
/// counters, from the same cached key strings, message after message, and building a name hashes its partition key
/// character by character and allocates the name.
/// </summary>
/// <remarks>
/// <para>A set is chosen from the strings' identity hashes, so a lookup reads no characters; a hit is a name built
/// from strings of the same identity, hence of the same characters, and the same window index: the very name
/// <see cref="RedisCounterKey.Create"/> would build. Callers whose key strings are new objects every call (an
/// acquire over keys built per request) never hit, and pay two compares and an entry of 40 bytes per counter.</para>
/// <para>Two ways per set, <see cref="Slots"/> slots in all: a name found goes into its set's first way and the one
/// there moves to the second, so at most that many names are kept alive. Direct-mapped, with half the slots, a
/// guard's counters over a thousand recipients shared a slot four times in ten and rebuilt those names on every check
/// (about 300 bytes and two hashes of a key a check); two ways over twice the slots leave about one in ten. Entries are
/// immutable and published whole, so a reader sees a way's old entry or its new one; a race between two writers can
/// only lose an entry, which is built again at its next lookup.</para>
/// </remarks>
internal sealed class RedisCounterKeyCache(string prefix)
{
    /// <summary>The slots, two per set: enough for a guard's six dimensions over a thousand or so recipients and users.</summary>
    internal const int Slots = 4096;

    private readonly Entry?[] _entries = new Entry?[Slots];

    /// <summary>The name of the counter of <paramref name="partitionKey"/> under the rule shape <paramref name="ruleId"/> in window <paramref name="windowIndex"/>.</summary>
    public string Get(string partitionKey, string ruleId, long windowIndex)
    {
        int first = ((RuntimeHelpers.GetHashCode(partitionKey) ^ (RuntimeHelpers.GetHashCode(ruleId) * 31)) & ((Slots / 2) - 1)) * 2;
        Entry? entry = Volatile.Read(ref _entries[first]);
        if (entry is not null && entry.Is(partitionKey, ruleId, windowIndex))
        {
            return entry.Name;
        }

        Entry? second = Volatile.Read(ref _entries[first + 1]);
        if (second is not null && second.Is(partitionKey, ruleId, windowIndex))
        {
            return second.Name;
        }

        string name = RedisCounterKey.Create(prefix, partitionKey, ruleId, windowIndex);
        if (entry is not null)
        {
            Volatile.Write(ref _entries[first + 1], entry);
        }

        Volatile.Write(ref _entries[first], new Entry(partitionKey, ruleId, windowIndex, name));
        return name;
    }

    private sealed class Entry(string partitionKey, string ruleId, long windowIndex, string name)
    {
        public readonly string PartitionKey = partitionKey;
        public readonly string RuleId = ruleId;
        public readonly long WindowIndex = windowIndex;
        public readonly string Name = name;

        public bool Is(string partitionKey, string ruleId, long windowIndex)
            => ReferenceEquals(PartitionKey, partitionKey) && ReferenceEquals(RuleId, ruleId) && WindowIndex == windowIndex;
    }
}
