namespace EmailGuard.AspNetCore;

/// <summary>Which policy, partition and rule one request of an acquire belongs to, so a denial can be named.</summary>
internal readonly record struct PartitionRequestOwner(EmailRateLimitPolicy Policy, EmailRateLimitPartition Partition, int RuleIndex);
