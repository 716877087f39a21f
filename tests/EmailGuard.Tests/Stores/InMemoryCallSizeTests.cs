using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>
/// A multi-key acquire keeps its counters and locks on the stack in room for 16 keys, and in rented arrays beyond, and
/// sorts its locks by insertion up to 16 and by the library sort beyond: each size must decide all-or-nothing, count
/// every key and lock each counter once, at and around the edge.
/// </summary>
public sealed class InMemoryCallSizeTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 3, 10, 17, 23, 456, TimeSpan.Zero);

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(40)]
    public async Task Acquire_CallOfEverySize_IsAllOrNothingAndCountsEachKey(int keys)
    {
        // Arrange: one key's limit is lower than the others', and one key appears twice (locked once, charged twice).
        FakeTimeProvider time = new(Start);
        var store = new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions { SweepInterval = TimeSpan.FromDays(1) }, time);
        RateLimitRule loose = RateLimitRule.PerHour(100);
        RateLimitRule tight = RateLimitRule.PerHour(6);
        RateLimitRequest[] requests = new RateLimitRequest[keys];
        for (int i = 0; i < keys; i++)
        {
            requests[i] = new($"k:{keys}:{i}", loose);
        }

        requests[keys / 2] = new("k:tight", tight);
        requests[keys - 1] = new($"k:{keys}:0", loose);

        // Act: a call charges "k:tight" once per call, and "k:<keys>:0" twice.
        int admitted = 0;
        RateLimitDecision last = default;
        for (int call = 0; call < 10; call++)
        {
            last = await store.AcquireAsync(requests, new RateLimitEntry[keys]);
            admitted += last.IsAllowed ? 1 : 0;
        }

        RateLimitEntry[] peek = new RateLimitEntry[keys];
        await store.PeekAsync(requests, peek);

        // Assert: six calls fit the tight key; the four after it are denied and charge nothing anywhere.
        admitted.Should().Be(6);
        last.IsAllowed.Should().BeFalse();
        last.DeniedIndex.Should().Be(keys / 2);
        peek[keys / 2].Count.Should().Be(6);
        peek[0].Count.Should().Be(12, "the key named twice in a call is charged twice per admitted call");
        for (int i = 1; i < keys - 1; i++)
        {
            if (i != keys / 2)
            {
                peek[i].Count.Should().Be(6, $"key {i} is charged once per admitted call, and never by a denied one");
            }
        }
    }
}
