using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.State;

/// <summary>The state store contract, run against the in-memory store.</summary>
public sealed class InMemoryStateStoreContractTests : StateStoreContractTests
{
    protected override IEmailGuardStateStore CreateStore(FakeTimeProvider timeProvider) => new InMemoryEmailGuardStateStore(timeProvider);
}
