using System.Globalization;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The connection loads the scripts of the store and the key-value store on the server when it connects and when it
/// connects again, so that a first call finds its script by SHA: no <c>NOSCRIPT</c> refusal and no <c>EVAL</c> (issue
/// 19: a flood's first window then costs Redis one script). What the server saw is read from its own counters,
/// <c>INFO errorstats</c> and <c>INFO commandstats</c>, before and after the call.
/// </summary>
[Collection(RedisScriptCacheCollection.Name)]
public sealed class RedisScriptPreloadTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private static readonly RateLimitRule s_rule = RateLimitRule.FixedWindow(5, TimeSpan.FromMinutes(1));

    /// <summary>How long a reconnect may take to load the scripts: far above the second or two it takes.</summary>
    private static readonly TimeSpan s_reconnectBound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AcquireAsync_FirstCallAfterConnectingToAnEmptyScriptCache_RunsBySha_WithoutNoScript()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server's counters also count other suites' scripts.
        }

        IServer server = Admin.GetServers()[0];
        await server.ScriptFlushAsync();
        RedisRateLimitStore store = CreateStore(Redis.CreateMultiplexer(), Prefix, Time);
        await store.Connection.GetDatabaseAsync();
        await store.Connection.ScriptLoads;
        ServerCounts before = await ServerCounts.ReadAsync(server);

        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("first", s_rule) }, Memory<RateLimitEntry>.Empty);

        ServerCounts after = await ServerCounts.ReadAsync(server);
        decision.IsAllowed.Should().BeTrue();
        (after.NoScript - before.NoScript).Should().Be(0, "the connection loaded the script before the first call");
        (after.Eval - before.Eval).Should().Be(0, "the script was never sent by its text");
        (after.EvalSha - before.EvalSha).Should().Be(1, "the call is one script by SHA");
    }

    [Fact]
    public async Task AcquireAsync_FirstCallConnectsWithoutWaitingForTheLoad_StillFindsItsScript()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server's counters also count other suites' scripts.
        }

        // The first request of a fresh app connects the store itself and waits for nothing: the loads go out on the
        // connection before its script does, so the server has the script when the script arrives.
        IServer server = Admin.GetServers()[0];
        await server.ScriptFlushAsync();
        RedisRateLimitStore store = CreateStore(Redis.CreateMultiplexer(), Prefix, Time);
        ServerCounts before = await ServerCounts.ReadAsync(server);

        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("first", s_rule) }, Memory<RateLimitEntry>.Empty);

        ServerCounts after = await ServerCounts.ReadAsync(server);
        decision.IsAllowed.Should().BeTrue();
        (after.NoScript - before.NoScript).Should().Be(0);
        (after.Eval - before.Eval).Should().Be(0);
    }

    [Fact]
    public async Task GetOrAddAsync_FirstCallAfterConnectingToAnEmptyScriptCache_RunsBySha_WithoutNoScript()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server's counters also count other suites' scripts.
        }

        IServer server = Admin.GetServers()[0];
        await server.ScriptFlushAsync();
        // A prefix of its own: the base class checks the counter keys under Prefix.
        using RedisConnection connection = new(Redis.CreateMultiplexer(), RedisServerFixture.UniquePrefix());
        RedisKeyValueStore store = new(connection);
        await connection.GetDatabaseAsync();
        await connection.ScriptLoads;
        ServerCounts before = await ServerCounts.ReadAsync(server);

        string? existing = await store.GetOrAddAsync("token", "first", TimeSpan.FromMinutes(1));

        ServerCounts after = await ServerCounts.ReadAsync(server);
        existing.Should().BeNull();
        (after.NoScript - before.NoScript).Should().Be(0, "the connection loaded the key-value store's script too");
        (after.Eval - before.Eval).Should().Be(0);
        (after.EvalSha - before.EvalSha).Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_ScriptFlushAfterStartup_NextCallRecoversAndIsCountedOnce()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server's counters also count other suites' scripts.
        }

        IServer server = Admin.GetServers()[0];
        RedisRateLimitStore store = CreateStore(Redis.CreateMultiplexer(), Prefix, Time);
        RateLimitRequest[] request = [new("flushed", s_rule)];
        RateLimitEntry[] entries = new RateLimitEntry[1];
        (await store.AcquireAsync(request, entries)).IsAllowed.Should().BeTrue();
        await server.ScriptFlushAsync();
        ServerCounts before = await ServerCounts.ReadAsync(server);

        RateLimitDecision afterFlush = await store.AcquireAsync(request, entries);

        ServerCounts after = await ServerCounts.ReadAsync(server);
        afterFlush.IsAllowed.Should().BeTrue("a flush while running is still recovered on the runner's NOSCRIPT path");
        entries[0].Count.Should().Be(2, "the refused script ran nothing; its EVAL counted the call once");
        (after.NoScript - before.NoScript).Should().Be(1);
        (after.Eval - before.Eval).Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_ServerRestartedWhileRunning_TheReconnectLoadsTheScriptsAgain()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server is not ours to stop.
        }

        RedisRateLimitStore store = CreateStore(Redis.CreateMultiplexer(), Prefix, Time);
        RateLimitRequest[] request = [new("restart", s_rule)];
        (await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();

        // Nothing is sent while the server is down: a call queued then would go out as the connection comes back,
        // ahead of the loads, and meet NOSCRIPT (which the runner recovers; that path is the flush test's).
        Redis.Stop();
        await Redis.StartAsync();
        using ConnectionMultiplexer admin = Redis.CreateMultiplexer();
        IServer server = admin.GetServers()[0];
        (await AllLoadedAsync(server, store.Connection)).Should().BeTrue("the store's connection loads its scripts when it reconnects");
        ServerCounts before = await ServerCounts.ReadAsync(server);

        RateLimitDecision afterRestart = await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);

        ServerCounts after = await ServerCounts.ReadAsync(server);
        afterRestart.IsAllowed.Should().BeTrue();
        (after.NoScript - before.NoScript).Should().Be(0);
        (after.Eval - before.Eval).Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_RedisDownWhenTheStoreConnects_ScriptsLoadedOnceRedisIsUp()
    {
        if (!Redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS the server is not ours to stop.
        }

        ConfigurationOptions configuration = Redis.CreateConfiguration();
        configuration.ConnectTimeout = 1000;
        Redis.Stop();
        ConnectionMultiplexer? multiplexer = null;
        RedisRateLimitStore store;
        try
        {
            multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
            store = CreateStore(multiplexer, Prefix, Time);

            // The store connects while Redis is down, and nothing fails or waits: the loads wait for the server.
            await store.Connection.GetDatabaseAsync();
            await store.Connection.ScriptLoads;
        }
        finally
        {
            await Redis.StartAsync();
        }

        await using ConnectionMultiplexer owned = multiplexer;
        using ConnectionMultiplexer admin = Redis.CreateMultiplexer();
        IServer server = admin.GetServers()[0];
        (await AllLoadedAsync(server, store.Connection)).Should().BeTrue("the scripts are loaded once the first connection is established");
        ServerCounts before = await ServerCounts.ReadAsync(server);

        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("late", s_rule) }, Memory<RateLimitEntry>.Empty);

        ServerCounts after = await ServerCounts.ReadAsync(server);
        decision.IsAllowed.Should().BeTrue();
        (after.NoScript - before.NoScript).Should().Be(0);
        (after.Eval - before.Eval).Should().Be(0);
    }

    /// <summary>
    /// Waits until the server has every script <paramref name="connection"/> keeps loaded, polling with a generous
    /// bound: a reconnect takes a heartbeat or two.
    /// </summary>
    private static async Task<bool> AllLoadedAsync(IServer server, RedisConnection connection)
    {
        IReadOnlyList<RedisScript> scripts = connection.ScriptsKeptLoaded;
        scripts.Should().NotBeEmpty();
        long deadline = TimeProvider.System.GetTimestamp() + (long)(s_reconnectBound.TotalSeconds * TimeProvider.System.TimestampFrequency);
        while (true)
        {
            bool all = true;
            foreach (RedisScript script in scripts)
            {
                all &= await server.ScriptExistsAsync(script.Hash);
            }

            if (all)
            {
                return true;
            }

            if (TimeProvider.System.GetTimestamp() > deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
        }
    }

    /// <summary>The server's NOSCRIPT refusals and script commands so far.</summary>
    private readonly record struct ServerCounts(long NoScript, long EvalSha, long Eval)
    {
        public static async Task<ServerCounts> ReadAsync(IServer server)
        {
            string errors = await server.InfoRawAsync("errorstats") ?? string.Empty;
            string commands = await server.InfoRawAsync("commandstats") ?? string.Empty;
            return new(
                Read(errors, "errorstat_NOSCRIPT:count="),
                Read(commands, "cmdstat_evalsha:calls="),
                Read(commands, "cmdstat_eval:calls="));
        }

        private static long Read(string info, string marker)
        {
            int at = info.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0)
            {
                return 0;
            }

            at += marker.Length;
            int end = at;
            while (end < info.Length && char.IsAsciiDigit(info[end]))
            {
                end++;
            }

            return long.Parse(info.AsSpan(at, end - at), CultureInfo.InvariantCulture);
        }
    }
}
