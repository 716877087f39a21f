using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>The largest and malformed messages on the in-memory store.</summary>
public sealed class InMemorySendGuardSizeTests : SendGuardSizeTests
{
    protected override IRateLimitStore CreateStore(FakeTimeProvider time) => new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time);
}
