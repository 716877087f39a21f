using EmailGuard;

/// <summary>Wires the Redis store, kept apart so the in-memory run does not depend on how the Redis package is configured.</summary>
internal static class LoadTestRedis
{
    public static void AddStore(IEmailGuardBuilder builder, string configuration)
        => throw new NotSupportedException($"The Redis store is not merged yet; cannot connect to {configuration}.");
}
