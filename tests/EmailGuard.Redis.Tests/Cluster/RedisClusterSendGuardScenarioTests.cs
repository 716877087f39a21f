using EmailGuard.Redis.Tests.Guard;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The send guard's incident scenarios on a three-master Redis Cluster. A guard check spans tenant, sender, user,
/// recipient and domain partitions, whose hash tags put them in different slots, so every check here exercises the
/// slot-by-slot reservation and its give-back on denial; the atomicity scenarios prove no counter moves on a denial.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterSendGuardScenarioTests(RedisClusterFixture cluster) : RedisSendGuardScenarioTestsBase(cluster.CreateMultiplexer)
{
    /// <summary>The guard's dimensions hash to different slots, whose scripts cannot agree on a later time atomically.</summary>
    protected override bool ReservesAcrossSlots => false;

    /// <summary>A tenant's key and its pool's hash to different slots: reserved slot by slot, under contention it may deny early.</summary>
    protected override bool AdmitsExactlyAcrossSlots => false;
}
