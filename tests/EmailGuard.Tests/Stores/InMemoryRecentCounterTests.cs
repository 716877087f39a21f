using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>
/// The in-memory store finds a counter first by the identity of its key string among the counters found lately (what
/// the send guard's cached keys hit on every check). A counter removed by a reset or a sweep must never be counted on
/// again through that shortcut, by a single-key or a multi-key acquire, and a different string with the same
/// characters must find the same counter.
/// </summary>
public sealed class InMemoryRecentCounterTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Acquire_SameKeyStringAfterReset_CountsOnTheNewCounter(bool multiKey)
    {
        // Arrange: the very same key string throughout, as the guard's key caches hand it out.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(3);
        string key = string.Concat("send:r:", "victim");
        RateLimitRequest[] requests = Requests(key, rule, multiKey);
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();

        // Act
        await store.ResetAsync(key, rule);
        RateLimitEntry[] results = new RateLimitEntry[requests.Length];
        RateLimitDecision afterReset = await store.AcquireAsync(requests, results);
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();
        RateLimitDecision full = await AcquireAsync(store, requests);

        // Assert: a count on the removed counter would show 3 after the reset, and would leave the new one short.
        afterReset.IsAllowed.Should().BeTrue();
        results[0].Count.Should().Be(1, "the reset counter is gone; the acquire after it starts a new one");
        full.IsAllowed.Should().BeFalse("the new counter holds the 3 acquires since the reset");
        store.TrackedKeys.Should().Be(requests.Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Acquire_SameKeyStringAfterSweep_CountsOnTheNewCounter(bool multiKey)
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(2);
        string key = string.Concat("send:r:", "swept");
        RateLimitRequest[] requests = Requests(key, rule, multiKey);
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();
        time.Advance(TimeSpan.FromMinutes(2));

        // Act
        int removed = store.Sweep();
        RateLimitEntry[] results = new RateLimitEntry[requests.Length];
        RateLimitDecision afterSweep = await store.AcquireAsync(requests, results);
        (await AcquireAsync(store, requests)).IsAllowed.Should().BeTrue();
        RateLimitDecision full = await AcquireAsync(store, requests);

        // Assert
        removed.Should().Be(1, "only the per-minute counter has expired");
        afterSweep.IsAllowed.Should().BeTrue();
        results[0].Count.Should().Be(1);
        full.IsAllowed.Should().BeFalse("the counter created after the sweep holds the 2 acquires since");
        store.TrackedKeys.Should().Be(requests.Length);
    }

    [Fact]
    public async Task Acquire_EqualKeyInAnotherString_FindsTheSameCounter()
    {
        // Arrange: two distinct string instances with the same characters, alternating.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(4);
        string first = string.Concat("send:u:", "user-42");
        string second = string.Concat("send:u:", "user-42");
        ReferenceEquals(first, second).Should().BeFalse();

        // Act
        bool[] admitted = new bool[6];
        for (int i = 0; i < admitted.Length; i++)
        {
            admitted[i] = (await AcquireAsync(store, Requests(i % 2 == 0 ? first : second, rule, multiKey: i % 3 == 0))).IsAllowed;
        }

        // Assert
        admitted.Should().Equal(true, true, true, true, false, false);
    }

    [Fact]
    public async Task Acquire_ManyKeysSharingRecentSlots_EachCountsOnItsOwnCounter()
    {
        // Arrange: far more keys than the shortcut has slots, so keys share slots and push each other out.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(3);
        string[] keys = Enumerable.Range(0, 500).Select(i => $"send:r:{i}").ToArray();

        // Act: every key 4 times, interleaved, alone and in multi-key calls.
        int[] admitted = new int[keys.Length];
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < keys.Length; i++)
            {
                admitted[i] += (await AcquireAsync(store, Requests(keys[i], rule, multiKey: (i + round) % 2 == 0))).IsAllowed ? 1 : 0;
            }
        }

        // Assert
        admitted.Should().OnlyContain(count => count == 3);
    }

    [Fact]
    public void TryGetCounter_TwoKeysOfOneSlot_AreBothRememberedByIdentity()
    {
        // Arrange: two key strings whose identity hashes land in the same slot, as two of a message's six keys did in
        // about one process in five: each then pushed the other out on every check, and both hashed their characters.
        InMemoryShape shape = new();
        RateLimitRule rule = RateLimitRule.PerHour(5);
        string[] keys = KeysOfOneSlot(2);
        foreach (string key in keys)
        {
            shape.Counters[key] = new InMemoryCounter(rule, key);
        }

        // Act: each found in turn, as a check finds its keys.
        for (int round = 0; round < 3; round++)
        {
            foreach (string key in keys)
            {
                shape.TryGetCounter(key, out InMemoryCounter? counter).Should().BeTrue();
                counter!.Key.Should().BeSameAs(key);
            }
        }

        // Assert
        keys.Should().OnlyContain(key => shape.IsRemembered(key), "a key may sit in either slot of its pair");
    }

    [Fact]
    public async Task Acquire_ThreeKeysOfOneSlotPair_EachCountsOnItsOwnCounter()
    {
        // Arrange: three keys for two slots, so they push each other out on every call.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(2);
        string[] keys = KeysOfOneSlot(3);

        // Act
        int[] admitted = new int[keys.Length];
        for (int round = 0; round < 4; round++)
        {
            for (int i = 0; i < keys.Length; i++)
            {
                admitted[i] += (await AcquireAsync(store, Requests(keys[i], rule, multiKey: round % 2 == 0))).IsAllowed ? 1 : 0;
            }
        }

        // Assert
        admitted.Should().OnlyContain(count => count == 2);
    }

    /// <summary>Distinct key strings whose identity hashes fall in the same slot of <see cref="InMemoryShape"/>'s recent counters.</summary>
    private static string[] KeysOfOneSlot(int count)
    {
        Dictionary<int, List<string>> bySlot = [];
        for (int i = 0; ; i++)
        {
            string key = $"send:r:slot{i}";
            int slot = RuntimeHelpers.GetHashCode(key) & (InMemoryShape.RecentSlots - 1);
            List<string> keys = bySlot.TryGetValue(slot, out List<string>? found) ? found : bySlot[slot] = [];
            keys.Add(key);
            if (keys.Count == count)
            {
                return [.. keys];
            }
        }
    }

    private static RateLimitRequest[] Requests(string key, RateLimitRule rule, bool multiKey)
        => multiKey
            ? [new RateLimitRequest(key, rule), new RateLimitRequest("send:g:all", RateLimitRule.PerDay(RateLimitRule.MaxLimit))]
            : [new RateLimitRequest(key, rule)];

    private static ValueTask<RateLimitDecision> AcquireAsync(InMemoryRateLimitStore store, RateLimitRequest[] requests)
        => store.AcquireAsync(requests, Array.Empty<RateLimitEntry>());

    private static InMemoryRateLimitStore CreateStore(FakeTimeProvider time)
        => new(new InMemoryRateLimitStoreOptions { SweepInterval = TimeSpan.FromDays(1) }, time);
}
