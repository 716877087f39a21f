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

    protected override IEmailGuardKeyValueStore CreateStore(FakeTimeProvider timeProvider) => new ExternalKeyValueStore(timeProvider);
}
