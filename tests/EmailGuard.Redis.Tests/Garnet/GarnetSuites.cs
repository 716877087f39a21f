using EmailGuard.Redis.Tests.Feedback;
using EmailGuard.Redis.Tests.Guard;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Redis.Tests.State;
using EmailGuard.Redis.Tests.Status;
using EmailGuard.Testing.Redis;
using Xunit.Abstractions;

// The Redis suites that must hold on Garnet too, each run against a Garnet started with --lua --lua-transaction-mode:
// the store contracts (counters, key-value, state), the differential test against the in-memory store, exactness at
// 8 multiplexers x 64 callers, the server-time layout (which Garnet's early expiry tests), the TTL scan, script failures, the guard scenarios, the tenant pool's breaker and status, and
// the coalescing and cancellation suites (which pause the server: Garnet has no CLIENT PAUSE, so the fixture freezes it
// with SIGSTOP, deciding by the detected server, RedisServerFixture.IsGarnet, never by the fixture's type; and they
// count scripts by a delta of INFO commandstats, since Garnet has no CONFIG RESETSTAT).
namespace EmailGuard.Redis.Tests.Garnet;

/// <summary>The store contract on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreContractTests(GarnetServerFixture garnet) : RedisStoreContractTestsBase(garnet.CreateMultiplexer);

/// <summary>The same decisions as the in-memory store, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreDifferentialTests(GarnetServerFixture garnet) : RedisStoreDifferentialTestsBase(garnet.CreateMultiplexer);

/// <summary>Exactness with 8 multiplexers of 64 callers each, on Garnet in transaction mode.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreConcurrencyTests(GarnetServerFixture garnet) : RedisRateLimitStoreConcurrencyTests(garnet);

/// <summary>The server-time layout on Garnet's clock and Garnet's expiry, which drops a key as its expiry millisecond begins.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreServerTimeTests(GarnetServerFixture garnet) : RedisRateLimitStoreServerTimeTests(garnet);

/// <summary>The store's Redis-specific behaviour and the TTL scan, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreTests(GarnetServerFixture garnet) : RedisRateLimitStoreTests(garnet);

/// <summary>A failed script leaves no key without a TTL, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetScriptFailureTests(GarnetServerFixture garnet) : RedisScriptFailureTestsBase(garnet);

/// <summary>The tenant pool's ratio breaker across two instances, and under attack, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetTenantPoolBreakerTests(GarnetServerFixture garnet) : RedisTenantPoolBreakerTestsBase(garnet.CreateMultiplexer);

/// <summary>A tenant pool's own status (its usage, flags and ratios, an unknown name), on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetTenantPoolStatusTests(GarnetServerFixture garnet) : RedisTenantPoolStatusTestsBase(garnet.CreateMultiplexer);

/// <summary>The send guard's incident scenarios, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetSendGuardScenarioTests(GarnetServerFixture garnet) : RedisSendGuardScenarioTestsBase(garnet.CreateMultiplexer);

/// <summary>Callers piled up on one key share one script per round trip, on Garnet frozen by SIGSTOP.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreCoalescingTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisRateLimitStoreCoalescingTests(garnet, output);

/// <summary>Cancellation charges nothing, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreCancellationTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisRateLimitStoreCancellationTests(garnet, output);

/// <summary>Token buckets (GCRA) on Garnet's clock and expiry.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetTokenBucketTests(GarnetServerFixture garnet) : RedisTokenBucketTests(garnet);

/// <summary>The reservation contract on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetReservationContractTests(GarnetServerFixture garnet) : RedisReservationContractTests(garnet);

/// <summary>Exact reservations from 8 multiplexers of 64 callers, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetReservationConcurrencyTests(GarnetServerFixture garnet) : RedisReservationConcurrencyTests(garnet);

/// <summary>The over-limit cache against Garnet's answers.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetOverLimitCacheTests(GarnetServerFixture garnet) : RedisOverLimitCacheTests(garnet);

/// <summary>The shared key-value store (feedback dedup, replay memory) on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetKeyValueStoreTests(GarnetServerFixture garnet) : RedisKeyValueStoreTests(garnet);

/// <summary>The key-value store contract on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetKeyValueStoreContractTests(GarnetServerFixture garnet) : RedisKeyValueStoreContractTestsBase(garnet.CreateMultiplexer);

/// <summary>The state store contract (lists, flags, flag history) on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetStateStoreContractTests(GarnetServerFixture garnet) : RedisStateStoreContractTestsBase(garnet.CreateMultiplexer);

/// <summary>Feedback ingestion, attribution and suppression on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetFeedbackTests(GarnetServerFixture garnet) : RedisFeedbackTests(garnet);

/// <summary>The send guard's own Redis behaviour (several instances, its keys and TTLs), on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetSendGuardTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisSendGuardTests(garnet, output);

/// <summary>The send guard's bounds on what one check may cost, on Garnet.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetSendGuardSizeTests(GarnetServerFixture garnet) : RedisSendGuardSizeTests(garnet);

/// <summary>The differential run on Garnet with every acquire sent through the batch script (its pcall and replies).</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreBatchedDifferentialTests(GarnetServerFixture garnet) : RedisStoreDifferentialTestsBase(garnet.CreateMultiplexer)
{
    protected override bool BatchEveryAcquire => true;
}

/// <summary>The store contract on Garnet with every acquire sent through the batch script.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreBatchedContractTests(GarnetServerFixture garnet) : RedisStoreContractTestsBase(garnet.CreateMultiplexer)
{
    protected override bool BatchEveryAcquire => true;
}

/// <summary>Acquires of different keys piled up behind a frozen Garnet share one batch script, each decided as alone.</summary>
[Collection(GarnetServerFixture.CollectionName)]
public sealed class GarnetRateLimitStoreBatchingTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisRateLimitStoreBatchingTests(garnet, output);
