using System.Diagnostics;
using System.Globalization;
using EmailGuard.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Redis;

/// <summary>
/// Throughput of single-key acquires on the Redis store with 64 concurrent callers on one multiplexer, measured in
/// the same run as (a) a raw StackExchange.Redis script call of the equivalent INCRBY + PEXPIRE at the same
/// concurrency and (b) <c>redis-benchmark -P 16 -c 50</c> running that script by SHA, the server's ceiling.
/// </summary>
/// <remarks>
/// Not a BenchmarkDotNet benchmark: BenchmarkDotNet measures one call at a time, while the question here is the
/// throughput of many concurrent callers sharing one connection. Run with
/// <c>dotnet run -c Release --project tests/EmailGuard.Benchmarks -- redis-throughput [operations [rounds]]</c>. It talks only
/// to 127.0.0.1 (a local redis-server it starts, or <c>EMAILGUARD_REDIS</c>) and is bounded in operations and time.
/// Rounds alternate between the two clients so machine noise hits both alike; the median round is reported.
/// Every scenario that batching across keys changes (many keys, whole guard checks) also runs on a store with
/// <see cref="RedisRateLimitStoreOptions.BatchAcrossKeys"/> off, in the same rounds, so the gain is a ratio of one run.
/// </remarks>
internal static class RedisThroughput
{
    private const int Callers = 64;
    private static readonly TimeSpan s_roundTimeLimit = TimeSpan.FromSeconds(60);

    /// <summary>The raw baseline: what the store's script does for one fixed-window key, minus the bookkeeping.</summary>
    internal const string RawScript = """
        local c = redis.call('INCRBY', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return c
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        int operations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        ConnectionMultiplexer multiplexer = redis.Multiplexer;
        IDatabase database = redis.Database;
        string prefix = redis.Prefix;

        RedisRateLimitStore store = redis.Store();
        RedisRateLimitStore clientClockStore = redis.Store("c:", options => options.UseServerTime = false);
        RateLimitRule rule = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, TimeSpan.FromHours(1));
        RateLimitRequest[] request = [new("hot", rule)];
        RedisKey rawKey = prefix + "raw";
        RedisValue[] rawArguments = [1, 3_600_000];
        RedisKey[] rawKeys = [rawKey];

        Func<Task> library = async () => await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        Func<Task> libraryClientClock = async () => await clientClockStore.AcquireAsync(request, Memory<RateLimitEntry>.Empty);
        // Every client is called the same way, from an async lambda, as an app's own async method would call it.
        Func<Task> raw = async () => await database.ScriptEvaluateAsync(RawScript, rawKeys, rawArguments);

        // The same calls spread over 10,000 keys, so that no two concurrent calls share a key: nothing is
        // coalesced, and the figure is the store's cost per script call against the raw client's.
        SpreadKeys spread = new(prefix);
        Func<Task> rawSpread = spread.Raw(database);
        Func<Task> librarySpread = spread.Acquire(store);

        // The same store with batching across keys off: one script call per acquire, as before batching.
        RedisRateLimitStore unbatched = redis.Store("u:", options => options.BatchAcrossKeys = false);
        Func<Task> unbatchedSpread = spread.Acquire(unbatched);

        // A full guard check on Redis (global, tenant, sender, user, one recipient and its domain: six counters in
        // one acquire), behind the timeout and breaker as the app runs it; 1,000 recipients at 50 domains in turn.
        Func<Task> guardCheck = GuardChecks(store);
        Func<Task> unbatchedGuardCheck = GuardChecks(unbatched);

        // What the guard and the middleware call: the store behind its timeout and circuit breaker.
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), TimeProvider.System);
        Func<Task> libraryResilient = async () => await resilient.AcquireAsync(request, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailOpen);

        // A flood: one key whose every acquire is over its limit, with the over-limit cache (the default) and without.
        RateLimitRequest[] flood = [new("flood", RateLimitRule.FixedWindow(1, TimeSpan.FromHours(1)))];
        RedisRateLimitStore uncachedStore = redis.Store("n:", options => options.OverLimitCacheMaxAge = TimeSpan.Zero);
        Func<Task> libraryFlood = async () => await store.AcquireAsync(flood, Memory<RateLimitEntry>.Empty);
        Func<Task> uncachedFlood = async () => await uncachedStore.AcquireAsync(flood, Memory<RateLimitEntry>.Empty);

        // Warm up the JIT, the connection and the server's script cache.
        await MeasureAsync(libraryFlood, Math.Min(operations, 10_000));
        await MeasureAsync(uncachedFlood, Math.Min(operations, 10_000));
        await MeasureAsync(raw, Math.Min(operations, 10_000));
        await MeasureAsync(library, Math.Min(operations, 10_000));
        await MeasureAsync(libraryClientClock, Math.Min(operations, 10_000));
        await MeasureAsync(libraryResilient, Math.Min(operations, 10_000));
        await MeasureAsync(rawSpread, Math.Min(operations, 10_000));
        await MeasureAsync(librarySpread, Math.Min(operations, 10_000));
        await MeasureAsync(unbatchedSpread, Math.Min(operations, 10_000));
        await MeasureAsync(guardCheck, Math.Min(operations, 10_000));
        await MeasureAsync(unbatchedGuardCheck, Math.Min(operations, 10_000));

        List<double> rawRounds = [];
        List<double> libraryRounds = [];
        List<double> clientClockRounds = [];
        List<double> resilientRounds = [];
        List<double> rawSpreadRounds = [];
        List<double> librarySpreadRounds = [];
        List<double> floodRounds = [];
        List<double> uncachedFloodRounds = [];
        List<double> unbatchedSpreadRounds = [];
        List<double> guardRounds = [];
        List<double> unbatchedGuardRounds = [];
        // Where the time goes: client CPU, Redis CPU and Redis commands per operation, and the batches formed.
        RedisThroughputProfile profile = redis.Profile(store);
        for (int round = 0; round < rounds; round++)
        {
            rawRounds.Add(await profile.MeasureAsync("raw", raw, operations));
            libraryRounds.Add(await profile.MeasureAsync("store 1 key", library, operations));
            clientClockRounds.Add(await profile.MeasureAsync("store client clock", libraryClientClock, operations));
            resilientRounds.Add(await profile.MeasureAsync("store resilient", libraryResilient, operations));
            rawSpreadRounds.Add(await profile.MeasureAsync("raw 10k keys", rawSpread, operations));
            librarySpreadRounds.Add(await profile.MeasureAsync("store 10k keys", librarySpread, operations));
            floodRounds.Add(await profile.MeasureAsync("flood", libraryFlood, operations));
            uncachedFloodRounds.Add(await profile.MeasureAsync("flood uncached", uncachedFlood, operations));
            unbatchedSpreadRounds.Add(await profile.MeasureAsync("store 10k keys unbatched", unbatchedSpread, operations));
            guardRounds.Add(await profile.MeasureAsync("guard", guardCheck, operations));
            unbatchedGuardRounds.Add(await profile.MeasureAsync("guard unbatched", unbatchedGuardCheck, operations));
        }

        byte[] sha = await multiplexer.GetServers()[0].ScriptLoadAsync(RawScript);
        double tool = await RunRedisBenchmarkAsync(multiplexer.GetServers()[0].EndPoint, Convert.ToHexStringLower(sha), prefix + "tool", operations * 2);

        double rawOps = Median(rawRounds);
        double libraryOps = Median(libraryRounds);
        double clientClockOps = Median(clientClockRounds);
        double resilientOps = Median(resilientRounds);
        double rawSpreadOps = Median(rawSpreadRounds);
        double librarySpreadOps = Median(librarySpreadRounds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"operations per round: {operations}, callers: {Callers}, rounds: {rounds} (median)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw SE.Redis INCRBY+PEXPIRE script: {rawOps,12:N0} ops/s   rounds {string.Join(" / ", rawRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"EmailGuard store (server time):     {libraryOps,12:N0} ops/s   rounds {string.Join(" / ", libraryRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"EmailGuard store (client clock):    {clientClockOps,12:N0} ops/s   rounds {string.Join(" / ", clientClockRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"store behind timeout + breaker:     {resilientOps,12:N0} ops/s   rounds {string.Join(" / ", resilientRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw script over 10,000 keys:        {rawSpreadOps,12:N0} ops/s   rounds {string.Join(" / ", rawSpreadRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"store over 10,000 keys (server):    {librarySpreadOps,12:N0} ops/s   rounds {string.Join(" / ", librarySpreadRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        double unbatchedSpreadOps = Median(unbatchedSpreadRounds);
        double guardOps = Median(guardRounds);
        double unbatchedGuardOps = Median(unbatchedGuardRounds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"same, batching across keys off:     {unbatchedSpreadOps,12:N0} ops/s   rounds {Rounds(unbatchedSpreadRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"full guard check on Redis:          {guardOps,12:N0} ops/s   rounds {Rounds(guardRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"same, batching across keys off:     {unbatchedGuardOps,12:N0} ops/s   rounds {Rounds(unbatchedGuardRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"flood, 1 key over its limit:        {Median(floodRounds),12:N0} ops/s   rounds {string.Join(" / ", floodRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the flood, over-limit cache off:    {Median(uncachedFloodRounds),12:N0} ops/s   rounds {string.Join(" / ", uncachedFloodRounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"redis-benchmark -P 16 -c 50 EVALSHA: {tool,12:N0} ops/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio store/raw client: {libraryOps / rawOps:F2} (client clock {clientClockOps / rawOps:F2}, behind timeout + breaker {resilientOps / rawOps:F2}); over 10,000 keys, nothing coalesced: {librarySpreadOps / rawSpreadOps:F2}; store/redis-benchmark: {libraryOps / tool:F2}; raw client/redis-benchmark: {rawOps / tool:F2}; flood/raw: {Median(floodRounds) / rawOps:F2} (cache off {Median(uncachedFloodRounds) / rawOps:F2})"));

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"batching across keys: 10,000 keys store/raw {librarySpreadOps / rawSpreadOps:F2} (off {unbatchedSpreadOps / rawSpreadOps:F2}); full guard check/raw single-key script over 10,000 keys {guardOps / rawSpreadOps:F2} (off {unbatchedGuardOps / rawSpreadOps:F2}), /raw on one key {guardOps / rawOps:F2}"));

        profile.Print();

        await database.ExecuteAsync("UNLINK", (RedisKey)(prefix + "raw"), (RedisKey)(prefix + "tool"));
        await spread.DeleteRawKeysAsync(database);
        return 0;
    }

    /// <summary>
    /// Only the store over 10,000 keys, round after round, to be run under a profiler
    /// (<c>dotnet-trace collect -- …EmailGuard.Benchmarks redis-throughput-keys [operations [rounds]]</c>).
    /// </summary>
    public static async Task<int> RunKeysOnlyAsync(string[] args)
    {
        int operations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        Func<Task> librarySpread = new SpreadKeys(redis.Prefix).Acquire(redis.Store());
        await MeasureAsync(librarySpread, Math.Min(operations, 10_000));
        for (int round = 0; round < rounds; round++)
        {
            double rate = await MeasureAsync(librarySpread, operations);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"store over 10,000 keys: {rate,12:N0} ops/s"));
        }

        return 0;
    }

    /// <summary>
    /// One scenario alone, for a profiler: full guard checks on Redis at 64 callers, batched
    /// (<c>redis-throughput-guard-alone [operations [rounds]]</c>).
    /// </summary>
    public static async Task<int> RunGuardAloneAsync(string[] args)
    {
        int operations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        Func<Task> guardCheck = GuardChecks(redis.Store());
        await MeasureAsync(guardCheck, Math.Min(operations, 10_000));
        for (int round = 0; round < rounds; round++)
        {
            double rate = await MeasureAsync(guardCheck, operations);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"full guard check on Redis: {rate,12:N0} ops/s"));
        }

        return 0;
    }

    /// <summary>
    /// Only the store over 10,000 keys against the raw script over the same number of keys, in alternating rounds,
    /// with where the time goes on both sides (<c>redis-throughput-spread [operations [rounds]]</c>): the issue-19
    /// ratio alone, for comparing builds quickly.
    /// </summary>
    public static async Task<int> RunSpreadOnlyAsync(string[] args)
    {
        int operations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        RedisRateLimitStore store = redis.Store();
        SpreadKeys spread = new(redis.Prefix);
        Func<Task> rawSpread = spread.Raw(redis.Database);
        Func<Task> librarySpread = spread.Acquire(store);

        await MeasureAsync(rawSpread, Math.Min(operations, 10_000));
        await MeasureAsync(librarySpread, Math.Min(operations, 10_000));

        List<double> rawRounds = [];
        List<double> libraryRounds = [];
        RedisThroughputProfile profile = redis.Profile(store);
        for (int round = 0; round < rounds; round++)
        {
            rawRounds.Add(await profile.MeasureAsync("raw 10k keys", rawSpread, operations));
            libraryRounds.Add(await profile.MeasureAsync("store 10k keys", librarySpread, operations));
        }

        double rawOps = Median(rawRounds);
        double libraryOps = Median(libraryRounds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"operations per round: {operations}, callers: {Callers}, rounds: {rounds} (median)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw script over 10,000 keys:        {rawOps,12:N0} ops/s   rounds {Rounds(rawRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"store over 10,000 keys (server):    {libraryOps,12:N0} ops/s   rounds {Rounds(libraryRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio store/raw over 10,000 keys: {libraryOps / rawOps:F2}; per round {string.Join(" / ", rawRounds.Zip(libraryRounds, (r, l) => (l / r).ToString("F2", CultureInfo.InvariantCulture)))}"));
        profile.Print();
        await spread.DeleteRawKeysAsync(redis.Database);
        return 0;
    }

    /// <summary>
    /// Acquires of the store over 10,000 keys on <paramref name="multiplexer"/>, as <see cref="RunSpreadOnlyAsync"/> makes
    /// them; called by <see cref="RedisBuildComparison"/> on each build it loads, so that builds run in one process.
    /// </summary>
    internal static Func<Task> CreateSpreadCaller(IConnectionMultiplexer multiplexer, string prefix)
        => new SpreadKeys(prefix).Acquire(new RedisRateLimitStore(new RedisConnection(multiplexer, prefix), new RedisRateLimitStoreOptions { KeyPrefix = prefix }, TimeProvider.System));

    /// <summary>
    /// Only the full guard check, batched, not batched, and batched on the client-clock layout (whose counters carry
    /// their window in their names, so no expiry is read), against the raw script over 10,000 keys, in alternating rounds,
    /// with where the time goes on both sides (<c>redis-throughput-guard [operations [rounds]]</c>).
    /// </summary>
    public static async Task<int> RunGuardOnlyAsync(string[] args)
    {
        int operations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        RedisRateLimitStore store = redis.Store();
        RedisRateLimitStore unbatched = redis.Store("u:", options => options.BatchAcrossKeys = false);
        RedisRateLimitStore clientClock = redis.Store("c:", options => options.UseServerTime = false);
        SpreadKeys spread = new(redis.Prefix);
        Func<Task> rawSpread = spread.Raw(redis.Database);

        Func<Task> guardCheck = GuardChecks(store);
        Func<Task> unbatchedGuardCheck = GuardChecks(unbatched);
        Func<Task> clientClockGuardCheck = GuardChecks(clientClock);

        await MeasureAsync(rawSpread, Math.Min(operations, 10_000));
        await MeasureAsync(guardCheck, Math.Min(operations, 10_000));
        await MeasureAsync(unbatchedGuardCheck, Math.Min(operations, 10_000));
        await MeasureAsync(clientClockGuardCheck, Math.Min(operations, 10_000));

        List<double> rawRounds = [];
        List<double> guardRounds = [];
        List<double> unbatchedRounds = [];
        List<double> clientClockRounds = [];
        RedisThroughputProfile profile = redis.Profile(store);
        for (int round = 0; round < rounds; round++)
        {
            rawRounds.Add(await profile.MeasureAsync("raw 10k keys", rawSpread, operations));
            guardRounds.Add(await profile.MeasureAsync("guard", guardCheck, operations));
            unbatchedRounds.Add(await profile.MeasureAsync("guard unbatched", unbatchedGuardCheck, operations));
            clientClockRounds.Add(await profile.MeasureAsync("guard client clock", clientClockGuardCheck, operations));
        }

        double rawOps = Median(rawRounds);
        double guardOps = Median(guardRounds);
        double unbatchedOps = Median(unbatchedRounds);
        double clientClockOps = Median(clientClockRounds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"operations per round: {operations}, callers: {Callers}, rounds: {rounds} (median)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw script over 10,000 keys:        {rawOps,12:N0} ops/s   rounds {Rounds(rawRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"full guard check on Redis:          {guardOps,12:N0} ops/s   rounds {Rounds(guardRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"same, batching across keys off:     {unbatchedOps,12:N0} ops/s   rounds {Rounds(unbatchedRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"same, client clock (UseServerTime off): {clientClockOps,8:N0} ops/s   rounds {Rounds(clientClockRounds)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ratio full guard check/raw single-key script over 10,000 keys: {guardOps / rawOps:F2} (batching off {unbatchedOps / rawOps:F2}, client clock {clientClockOps / rawOps:F2})"));
        profile.Print();
        await spread.DeleteRawKeysAsync(redis.Database);
        return 0;
    }

    internal static async Task<double> MeasureAsync(Func<Task> call, int operations)
    {
        int remaining = operations;
        Stopwatch elapsed = Stopwatch.StartNew();
        Task[] callers = new Task[Callers];
        for (int c = 0; c < Callers; c++)
        {
            callers[c] = Task.Run(async () =>
            {
                while (Interlocked.Decrement(ref remaining) >= 0 && elapsed.Elapsed < s_roundTimeLimit)
                {
                    await call();
                }
            });
        }

        await Task.WhenAll(callers);
        elapsed.Stop();
        int done = operations - Math.Max(0, Volatile.Read(ref remaining));
        return done / elapsed.Elapsed.TotalSeconds;
    }

    private static async Task<double> RunRedisBenchmarkAsync(System.Net.EndPoint endPoint, string sha, string key, int requests)
    {
        string? binary = FindOnPath("redis-benchmark");
        if (binary is null || endPoint is not System.Net.IPEndPoint ip)
        {
            Console.WriteLine("redis-benchmark not found (package redis-tools) or Redis is not on an IP endpoint; skipping the tool baseline.");
            return double.NaN;
        }

        ProcessStartInfo info = new(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in (string[])
                 [
                     "-h", "127.0.0.1", "-p", ip.Port.ToString(CultureInfo.InvariantCulture), "-P", "16", "-c", "50",
                     "-n", requests.ToString(CultureInfo.InvariantCulture), "-q", "EVALSHA", sha, "1", key, "1", "3600000",
                 ])
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info)!;
        using CancellationTokenSource timeout = new(s_roundTimeLimit);
        string output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        // -q prints e.g. "EVALSHA ...: 98765.43 requests per second, p50=0.711 msec"; with \r progress lines before it.
        string last = output.Split('\r', '\n').Last(l => l.Contains("requests per second", StringComparison.Ordinal));
        string number = last[(last.LastIndexOf(": ", StringComparison.Ordinal) + 2)..last.IndexOf(" requests per second", StringComparison.Ordinal)];
        return double.Parse(number, CultureInfo.InvariantCulture);
    }

    private static string? FindOnPath(string name)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string Rounds(List<double> rounds) => string.Join(" / ", rounds.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)));

    /// <summary>The messages the guard check scenarios send in turn: 1,000 recipients at 50 domains, 64 users, one tenant and sender.</summary>
    private static OutboundEmail[] GuardMessages() => [.. Enumerable.Range(0, 1_000).Select(i => new OutboundEmail
    {
        To = [string.Create(CultureInfo.InvariantCulture, $"customer{i}@example{i % 50}.com")],
        Sender = "noreply@app.example",
        TenantId = "acme",
        UserId = string.Create(CultureInfo.InvariantCulture, $"user-{i % 64}"),
    })];

    /// <summary>Full guard checks on <paramref name="store"/>, of <see cref="GuardMessages"/> in turn.</summary>
    private static Func<Task> GuardChecks(IRateLimitStore store)
    {
        EmailSendGuard guard = CreateGuard(store);
        OutboundEmail[] messages = GuardMessages();
        int next = 0;
        return async () => await guard.CheckAsync(messages[(Interlocked.Increment(ref next) & int.MaxValue) % messages.Length]);
    }

    /// <summary>The send guard as AddEmailGuard() builds it, with an hourly rule out of reach on each of the six parties, on this store.</summary>
    private static EmailSendGuard CreateGuard(IRateLimitStore store)
    {
        RateLimitRule rule = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        return BenchmarkGuards.Create(BenchmarkGuards.SixParties(rule, rule), store, countSends: false);
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        return sorted[sorted.Count / 2];
    }
}
