namespace EmailGuard.AspNetCore.Tests;

/// <summary>The hung and dead Redis tests measure call durations: they run alone, not next to other tests' load.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HungAndDeadRedisCollection
{
    public const string Name = "hung-and-dead-redis";
}
