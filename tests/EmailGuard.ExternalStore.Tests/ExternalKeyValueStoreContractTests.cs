using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>The shared key-value store contract, run against a store built on the public API alone.</summary>
public sealed class ExternalKeyValueStoreContractTests : KeyValueStoreContractTests
{
    [Fact]
    public async Task Value_PastItsTimeToLive_IsGone_AndGetOrAddStoresAgain()
    {
        FakeTimeProvider time = new(Start);
        ExternalKeyValueStore store = new(time);
        string key = NewKey("ttl");

        await store.SetAsync(key, "old", TimeSpan.FromMinutes(1));
        time.Advance(TimeSpan.FromMinutes(1));
        string? afterExpiry = await store.GetAsync(key);
        string? added = await store.GetOrAddAsync(key, "new", TimeSpan.FromMinutes(1));

        afterExpiry.Should().BeNull("a value is never returned after its time to live");
        added.Should().BeNull("an expired value does not block a new one");
        (await store.GetAsync(key)).Should().Be("new");
    }

    [Fact]
    public async Task Remove_PastTheTimeToLive_RemovesNothing_AndLeavesTheNextClaim()
    {
        FakeTimeProvider time = new(Start);
        ExternalKeyValueStore store = new(time);
        string key = NewKey("ttl");

        await store.GetOrAddAsync(key, "a", TimeSpan.FromMinutes(1));
        time.Advance(TimeSpan.FromMinutes(1));
        bool expired = await store.RemoveAsync(key, "a");
        string? added = await store.GetOrAddAsync(key, "b", TimeSpan.FromMinutes(1));
        bool stale = await store.RemoveAsync(key, "a");

        (expired, added, stale).Should().Be((false, (string?)null, false));
        (await store.GetAsync(key)).Should().Be("b");
    }

    protected override IEmailGuardKeyValueStore CreateStore(FakeTimeProvider timeProvider) => new ExternalKeyValueStore(timeProvider);
}
