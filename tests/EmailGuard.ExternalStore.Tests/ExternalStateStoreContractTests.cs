using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.ExternalStore.Tests;

/// <summary>The shared state store contract, run against a state store built on the public API alone.</summary>
public sealed class ExternalStateStoreContractTests : StateStoreContractTests
{
    protected override IEmailGuardStateStore CreateStore(FakeTimeProvider timeProvider) => new ExternalStateStore(timeProvider);

    /// <summary>It keeps the default <see cref="IEmailGuardStateStore.LoadChangesAsync"/>, as a store written before it would.</summary>
    protected override bool ReportsChanges => false;
}
