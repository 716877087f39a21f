using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>The send guard's incident scenarios on the in-memory store.</summary>
public sealed class InMemorySendGuardScenarioTests : SendGuardScenarioTests
{
    protected override IRateLimitStore CreateStore(FakeTimeProvider time) => new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time);
}
