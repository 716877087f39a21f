using EmailGuard;

/// <summary>Wires the Redis store for the <c>--store redis</c> run.</summary>
internal static class LoadTestRedis
{
    public static void AddStore(IEmailGuardBuilder builder, string configuration)
        => builder.AddRedisStore(o =>
        {
            o.Configuration = configuration;
            o.KeyPrefix = "emailguard-load:";
        });
}
