using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests;

/// <summary>Every test that runs on Garnet shares one <see cref="GarnetServerFixture"/>.</summary>
[CollectionDefinition(GarnetServerFixture.CollectionName)]
public sealed class GarnetCollection : ICollectionFixture<GarnetServerFixture>;
