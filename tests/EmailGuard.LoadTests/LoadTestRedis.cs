using EmailGuard;
using StackExchange.Redis;

/// <summary>
/// Wires the Redis store for the <c>--store redis</c> run, on an <see cref="IConnectionMultiplexer"/> registered in DI,
/// and maps <c>/raw-redis</c>: the bare endpoint plus one raw INCRBY + PEXPIRE script on that same multiplexer, the
/// floor for any limiter that makes one Redis round trip per request.
/// </summary>
internal static class LoadTestRedis
{
    private const string RawScript = """
        local c = redis.call('INCRBY', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return c
        """;

    private static readonly RedisKey[] s_rawKeys = ["emailguard-load:raw"];
    private static readonly RedisValue[] s_rawArguments = [1, 60_000];

    public static void AddStore(IEmailGuardBuilder builder, string configuration, TimeSpan? overLimitCacheMaxAge)
    {
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(configuration));
        builder.AddRedisStore(o =>
        {
            o.KeyPrefix = "emailguard-load:";
            if (overLimitCacheMaxAge is { } maxAge)
            {
                o.OverLimitCacheMaxAge = maxAge;
            }
        });
    }

    public static void MapRawEndpoint(WebApplication app)
    {
        IDatabase database = app.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        app.MapGet("/raw-redis", async () =>
        {
            await database.ScriptEvaluateAsync(RawScript, s_rawKeys, s_rawArguments);
            return "ok";
        });
    }
}
