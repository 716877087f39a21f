using EmailGuard.Redis.Tests.Feedback;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Feedback on a Redis Cluster: every test of <see cref="RedisFeedbackTests"/>, with its dedup counters, message-id
/// mappings, suppression lists and fan-out keys spread over the slots of three masters. Fifty concurrent deliveries
/// record once, a message sent through one instance is attributed on another, and a suppression takes effect on the
/// next check.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterFeedbackTests(RedisClusterFixture cluster) : RedisFeedbackTests(cluster.CreateMultiplexer);
