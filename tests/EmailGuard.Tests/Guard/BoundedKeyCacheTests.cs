using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// The one cache of derived keys: under a flood of distinct values (random recipients, random ids) it keeps the keys
/// in use, stays within its bound, and never empties itself.
/// </summary>
public sealed class BoundedKeyCacheTests
{
    private const int Capacity = 1_000;
    private const int HotKeys = 100;
    private const int AttackerValuesPerLookup = 40;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GetOrAdd_FloodOfDistinctValues_NeverEvictsAKeyHitInTheLastSecond(bool fullOfAttackerValuesFirst)
    {
        // Arrange: hot keys are added and hit once, so they count as in use; either into an empty cache, or into one
        // that attacker values already fill.
        FakeTimeProvider time = new();
        BoundedKeyCache<string, string> cache = new(Capacity, StringComparer.Ordinal, time);
        for (int i = 0; fullOfAttackerValuesFirst && i < 3 * Capacity; i++)
        {
            cache.GetOrAdd($"early-{i}", 0, static (key, _) => Derive(key));
        }

        int hotComputed = 0;
        for (int i = 0; i < HotKeys; i++)
        {
            cache.GetOrAdd($"hot-{i}", 0, (key, _) => { hotComputed++; return Derive(key); });
            cache.TryGetValue($"hot-{i}", out _).Should().BeTrue();
        }

        // Act: 40 attacker values per real lookup, 400,000 in all; every hot key is looked up every 0.4 s of fake time.
        int hotMisses = 0;
        int mostCached = 0;
        for (int round = 0; round < 10_000; round++)
        {
            for (int j = 0; j < AttackerValuesPerLookup; j++)
            {
                string value = $"attacker-{round}-{j}";
                cache.GetOrAdd(value, 0, static (key, _) => Derive(key)).Should().Be(Derive(value));
            }

            string hot = $"hot-{round % HotKeys}";
            if (!cache.TryGetValue(hot, out string? cached))
            {
                hotMisses++;
                cache.GetOrAdd(hot, 0, static (key, _) => Derive(key));
            }
            else
            {
                cached.Should().Be(Derive(hot));
            }

            mostCached = Math.Max(mostCached, cache.Count);
            time.Advance(TimeSpan.FromMilliseconds(4));
        }

        // Assert
        hotMisses.Should().Be(0);
        hotComputed.Should().Be(HotKeys);
        mostCached.Should().BeLessThanOrEqualTo(Capacity);
    }

    [Fact]
    public void TryAdd_CacheOfEntriesInUse_ReplacesOneNoLongerProtectedOnceItsCreditsAreSpent()
    {
        // Arrange: no one-off value to replace; "idle" was hit longest ago, the others 1.5 s ago.
        FakeTimeProvider time = new();
        BoundedKeyCache<string, string> cache = new(BoundedKeyCache<string, string>.MaxProbes, StringComparer.Ordinal, time);
        cache.TryAdd("idle", "i");
        cache.TryGetValue("idle", out _);
        time.Advance(TimeSpan.FromSeconds(2));
        string[] others = Enumerable.Range(1, BoundedKeyCache<string, string>.MaxProbes - 1).Select(i => $"k{i}").ToArray();
        foreach (string key in others)
        {
            cache.TryAdd(key, key);
            cache.TryGetValue(key, out _);
        }

        time.Advance(TimeSpan.FromSeconds(1.5));

        // Act
        bool added = cache.TryAdd("new", "n");

        // Assert
        added.Should().BeTrue();
        cache.Contains("idle").Should().BeFalse();
        others.Should().OnlyContain(key => cache.Contains(key));
    }

    [Fact]
    public void GetOrAdd_FloodAfterAnEntryWasHit_ReplacesOnlyOneOffValuesAndNeverEmptiesTheCache()
    {
        // Arrange: a key hit long ago, then a flood of values that are never looked up again.
        FakeTimeProvider time = new();
        BoundedKeyCache<string, string> cache = new(Capacity, StringComparer.Ordinal, time);
        cache.GetOrAdd("seen", 0, static (key, _) => Derive(key));
        cache.TryGetValue("seen", out _);
        time.Advance(TimeSpan.FromMinutes(10));

        // Act
        int mostCached = 0;
        int leastCachedOnceFull = int.MaxValue;
        for (int i = 0; i < 20 * Capacity; i++)
        {
            cache.GetOrAdd($"v{i}", 0, static (key, _) => Derive(key));
            mostCached = Math.Max(mostCached, cache.Count);
            leastCachedOnceFull = mostCached == Capacity ? Math.Min(leastCachedOnceFull, cache.Count) : leastCachedOnceFull;
        }

        // Assert
        cache.Contains("seen").Should().BeTrue("one-off values replace each other before anything that was hit");
        mostCached.Should().Be(Capacity);
        leastCachedOnceFull.Should().Be(Capacity, "entries are replaced one by one, never all at once");
    }

    [Fact]
    public void TryAdd_EveryEntryRecentlyHit_ReturnsFalseAndKeepsThemAll()
    {
        // Arrange: a cache full of entries in use, as when an attacker repeats each of its values.
        FakeTimeProvider time = new();
        BoundedKeyCache<int, int> cache = new(64, timeProvider: time);
        for (int i = 0; i < 64; i++)
        {
            cache.TryAdd(i, i).Should().BeTrue();
            cache.TryGetValue(i, out _).Should().BeTrue();
        }

        // Act
        bool added = cache.TryAdd(1000, 1000);
        int value = cache.GetOrAdd(1001, 0, static (key, _) => key * 2);

        // Assert
        added.Should().BeFalse();
        value.Should().Be(2002, "a value that cannot be cached is still computed and returned");
        Enumerable.Range(0, 64).Should().OnlyContain(i => cache.Contains(i));
        cache.Count.Should().Be(64);
    }

    [Fact]
    public void GetOrAdd_EightThreadsFloodingAndReading_ReturnsTheRightValueAndStaysBounded()
    {
        // Arrange
        BoundedKeyCache<string, string> cache = new(Capacity, StringComparer.Ordinal);
        string[] hot = Enumerable.Range(0, HotKeys).Select(i => $"hot-{i}").ToArray();
        foreach (string key in hot)
        {
            cache.GetOrAdd(key, 0, static (k, _) => Derive(k));
            cache.TryGetValue(key, out _);
        }

        // Act
        int wrong = 0;
        int mostCached = 0;
        Parallel.For(0, 8, worker =>
        {
            for (int i = 0; i < 50_000; i++)
            {
                string key = i % 8 == 0 ? hot[i % HotKeys] : $"w{worker}-{i}";
                if (cache.GetOrAdd(key, 0, static (k, _) => Derive(k)) != Derive(key))
                {
                    Interlocked.Increment(ref wrong);
                }

                if (i % 1000 == 0)
                {
                    InterlockedMax(ref mostCached, cache.Count);
                }
            }
        });

        // Assert
        wrong.Should().Be(0);
        mostCached.Should().BeLessThanOrEqualTo(Capacity + 8, "at most one entry per thread is in flight beyond the bound");
        cache.Count.Should().BeLessThanOrEqualTo(Capacity);
    }

    [Fact]
    public void TryGetValue_RememberedEntry_AnswersThatKeyObjectAloneAndMarksItHitAsALookupDoes()
    {
        // Arrange: 64 entries, each found once through a slot of its own, which then remembers it; two seconds later
        // none is protected from eviction any more.
        FakeTimeProvider time = new();
        BoundedKeyCache<string, string> cache = new(64, StringComparer.Ordinal, time);
        string[] keys = Enumerable.Range(0, 64).Select(i => $"key-{i}").ToArray();
        BoundedKeyCache<string, string>.Entry?[] slots = new BoundedKeyCache<string, string>.Entry?[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            cache.TryAdd(keys[i], Derive(keys[i])).Should().BeTrue();
            cache.TryGetValue(keys[i], cache.NowMs(), ref slots[i], out _).Should().BeTrue();
        }

        time.Advance(TimeSpan.FromSeconds(2));

        // Act: each key again, the same string object, found by its slot; then the key of slot 0 in another string,
        // and a key not cached, through slot 1.
        string[] found = new string[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            cache.TryGetValue(keys[i], cache.NowMs(), ref slots[i], out found[i]!).Should().BeTrue();
        }

        string equal = new(keys[0].AsSpan());
        cache.TryGetValue(equal, cache.NowMs(), ref slots[0], out string? byEqual).Should().BeTrue();
        BoundedKeyCache<string, string>.Entry? remembered = slots[1];
        cache.TryGetValue("absent", cache.NowMs(), ref slots[1], out _).Should().BeFalse();
        bool added = cache.TryAdd("new", "n");

        // Assert: every entry counts as in use (hit just now), so nothing is evicted for a new one.
        found.Should().Equal(keys.Select(Derive));
        byEqual.Should().Be(Derive(keys[0]));
        slots[1].Should().BeSameAs(remembered, "a miss leaves the slot as it was");
        added.Should().BeFalse("an entry found through its slot is marked hit as any lookup marks it");
        keys.Should().OnlyContain(key => cache.Contains(key));
    }

    private static string Derive(string key) => "k:" + key;

    private static void InterlockedMax(ref int target, int value)
    {
        int seen = Volatile.Read(ref target);
        while (value > seen)
        {
            int previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
