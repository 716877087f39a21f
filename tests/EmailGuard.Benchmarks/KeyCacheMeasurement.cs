using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Benchmarks;

/// <summary>
/// Hot address lookups while an attacker sends 40 distinct addresses per real lookup, against the same lookups on a
/// quiet cache: whether a flood pushes hot keys out. Measured for the send guard's cache type and, for comparison, for
/// the "clear when full" cache it replaced. Only the hot lookups are timed, in batches of 16; the median batch is
/// reported, so that a descheduled thread on a loaded machine does not decide the figure. The share of hot lookups
/// that missed is counted exactly.
/// </summary>
internal static class KeyCacheMeasurement
{
    private const int HotKeys = 1_000;
    private const int Batch = 16;
    private const int AttackerValuesPerLookup = 40;
    private const int Rounds = 1_000;
    private static readonly EmailAddressNormalizationOptions s_normalization = new();

    public static void Run()
    {
        string[] hot = Enumerable.Range(0, HotKeys).Select(i => string.Create(CultureInfo.InvariantCulture, $"Customer.{i}@Example{i % 50}.com")).ToArray();
        Console.WriteLine($"key caches, {HotKeys:N0} hot addresses, {AttackerValuesPerLookup} distinct attacker addresses per hot lookup, capacity 20,000:");

        // A first pass of each brings the code to its final tier; only the second is reported.
        Measure(null, hot, new ClearWhenFullCache());
        Measure(null, hot, new Bounded());
        Measure("clear when full (before)", hot, new ClearWhenFullCache());
        Measure("BoundedKeyCache", hot, new Bounded());
    }

    private static void Measure(string? name, string[] hot, ICache cache)
    {
        foreach (string key in hot)
        {
            cache.Get(key, isHot: true);
            cache.Get(key, isHot: true);
        }

        cache.HotMisses = 0;
        double warm = MedianHotLookup(hot, cache, attacked: false);
        int warmMisses = cache.HotMisses;
        cache.HotMisses = 0;
        double attacked = MedianHotLookup(hot, cache, attacked: true);
        int attackedMisses = cache.HotMisses;
        cache.HotMisses = 0;

        // The same attacker work done beside the cache instead of through it: what the lost CPU caches alone cost.
        double control = MedianHotLookup(hot, cache, attacked: true, bypass: true);
        if (name is not null)
        {
            Console.WriteLine(
                $"  {name}: warm {warm:0.0} ns/lookup ({warmMisses} hot misses), attacked {attacked:0.0} ns/lookup " +
                $"({attackedMisses / (double)(Rounds * Batch):P1} of hot lookups missed): attacked/warm speed = {warm / attacked:P1}; " +
                $"same work beside the cache {control:0.0} ns/lookup: attacked/control speed = {control / attacked:P1}");
        }
    }

    private static double MedianHotLookup(string[] hot, ICache cache, bool attacked, bool bypass = false)
    {
        long[] batches = new long[Rounds];
        int next = 0;
        int attackerValues = 0;
        for (int round = 0; round < Rounds; round++)
        {
            if (attacked)
            {
                for (int i = 0; i < Batch * AttackerValuesPerLookup; i++)
                {
                    attackerValues++;
                    string value = string.Create(CultureInfo.InvariantCulture, $"x{attackerValues}@spam{attackerValues % 997}.example");
                    _ = bypass ? GuardAddress.Create(value, s_normalization) : cache.Get(value, isHot: false);
                }
            }

            long started = Stopwatch.GetTimestamp();
            for (int i = 0; i < Batch; i++)
            {
                cache.Get(hot[next], isHot: true);
                next = next + 1 == hot.Length ? 0 : next + 1;
            }

            batches[round] = Stopwatch.GetTimestamp() - started;
        }

        Array.Sort(batches);
        return batches[Rounds / 2] * (1e9 / Stopwatch.Frequency) / Batch;
    }

    private interface ICache
    {
        int HotMisses { get; set; }

        GuardAddress Get(string raw, bool isHot);
    }

    /// <summary>What <see cref="AddressKeyCache"/> does, with hot misses counted.</summary>
    private sealed class Bounded : ICache
    {
        private readonly BoundedKeyCache<string, GuardAddress> _cache = new(AddressKeyCache.DefaultCapacity, StringComparer.Ordinal);

        public int HotMisses { get; set; }

        public GuardAddress Get(string raw, bool isHot)
        {
            if (_cache.TryGetValue(raw, out GuardAddress? address))
            {
                return address;
            }

            HotMisses += isHot ? 1 : 0;
            address = GuardAddress.Create(raw, s_normalization);
            _cache.TryAdd(raw, address);
            return address;
        }
    }

    /// <summary>The cache as it was: cleared whole at 20,000 entries, and every miss reads Count (which locks every bucket).</summary>
    private sealed class ClearWhenFullCache : ICache
    {
        private readonly ConcurrentDictionary<string, GuardAddress> _cache = new(StringComparer.Ordinal);

        public int HotMisses { get; set; }

        public GuardAddress Get(string raw, bool isHot)
        {
            if (_cache.TryGetValue(raw, out GuardAddress? address))
            {
                return address;
            }

            HotMisses += isHot ? 1 : 0;
            address = GuardAddress.Create(raw, s_normalization);
            if (_cache.Count >= AddressKeyCache.DefaultCapacity)
            {
                _cache.Clear();
            }

            _cache.TryAdd(raw, address);
            return address;
        }
    }
}
