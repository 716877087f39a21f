using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Feedback;

/// <summary>The key-value store contract, run against the in-memory store.</summary>
public sealed class InMemoryKeyValueStoreContractTests : KeyValueStoreContractTests
{
    protected override IEmailGuardKeyValueStore CreateStore(FakeTimeProvider timeProvider) => new InMemoryKeyValueStore(1_000, timeProvider);
}
