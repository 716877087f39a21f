using System.Diagnostics;
using System.Globalization;
using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StackExchange.Redis.Profiling;

namespace EmailGuard.Benchmarks;

/// <summary>
/// What a reservation costs next to an acquire, in one run: on Redis the commands the client sent per call (a
/// StackExchange.Redis profiling session) and what the server ran (<c>INFO commandstats</c> before and after, on a
/// redis-server of its own that nothing else talks to), for the store and through the send guard; in memory the bytes allocated per call on the calling thread. Run with
/// <c>dotnet run -c Release --project tests/EmailGuard.Benchmarks -- measure reservations [calls]</c>.
/// </summary>
/// <remarks>
/// Every measured call is admitted (a bucket refilling a permit a microsecond, windows out of reach), so the figures
/// are those of a reservation that waits and of an admitted acquire, never of a denial. One command per call is one
/// round trip: the store runs each call as one script by SHA (EVALSHA), with no MULTI, no second read and no NOSCRIPT
/// retry after the warm-up. ReservationBenchmarks gives the same calls' times under BenchmarkDotNet.
/// </remarks>
internal static class ReservationCostMeasurement
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(int calls)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reservation cost, {calls} calls of each kind, every call admitted"));
        await RedisAsync(calls);
        InMemory(calls * 10);
    }

    private static async Task RedisAsync(int calls)
    {
        RedisServerFixture redis = new();
        await redis.InitializeAsync();
        try
        {
            ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
            IServer server = multiplexer.GetServers()[0];
            string prefix = "cost:" + Guid.NewGuid().ToString("N")[..8] + ":";
            RedisConnection connection = new(multiplexer, prefix);
            RedisRateLimitStore store = new(connection, new RedisRateLimitStoreOptions { KeyPrefix = prefix }, TimeProvider.System);
            RateLimitRule window = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
            RateLimitRule bucket = RateLimitRule.TokenBucket(1_000_000, TimeSpan.FromSeconds(1), 1);
            RateLimitRequest[] acquire = [new("tenant:acme", window), new("account", window)];
            RateLimitRequest[] reserve = [new("provider", bucket), new("account", window)];
            RateLimitEntry[] results = new RateLimitEntry[2];
            OutboundEmail message = new() { To = ["customer@example.com"], Sender = "noreply@app.example", TenantId = "acme", UserId = "user-42" };
            EmailSendGuard checkGuard = Guard(store, window, window);
            EmailSendGuard reserveGuard = Guard(store, bucket, window);

            (string Name, Func<Task<bool>> Call)[] kinds =
            [
                ("store acquire (2 windows)", async () => (await store.AcquireAsync(acquire, results)).IsAllowed),
                ("store reserve (bucket + window)", async () => (await store.ReserveAsync(reserve, MaxWait, results)).IsAllowed),
                ("guard check (6 dims, feedback)", async () => (await checkGuard.CheckAsync(message)).IsAllowed),
                ("guard reserve (6 dims, feedback)", async () => (await reserveGuard.ReserveAsync(message)).IsAllowed),
            ];

            foreach ((_, Func<Task<bool>> call) in kinds)
            {
                for (int i = 0; i < 100; i++)
                {
                    await call();
                }
            }

            foreach ((string name, Func<Task<bool>> call) in kinds)
            {
                Dictionary<string, long> before = await CommandCallsAsync(server);
                ProfilingSession session = new();
                multiplexer.RegisterProfiler(() => session);
                Stopwatch elapsed = Stopwatch.StartNew();
                for (int i = 0; i < calls; i++)
                {
                    if (!await call())
                    {
                        throw new InvalidOperationException($"{name} was denied; the figures would be a denial's.");
                    }
                }

                elapsed.Stop();
                multiplexer.RegisterProfiler(() => null);
                List<IProfiledCommand> sentByClient = [.. session.FinishProfiling()];
                Dictionary<string, long> after = await CommandCallsAsync(server);

                // The client's own commands (round trips) are the scripts it sent; everything else in commandstats ran
                // inside them. The two INFO calls of the measurement are left out.
                Dictionary<string, long> delta = after.ToDictionary(p => p.Key, p => p.Value - before.GetValueOrDefault(p.Key));
                delta.Remove("info");
                long sent = delta.Where(p => p.Key is "evalsha" or "eval" or "evalsha_ro" or "eval_ro").Sum(p => p.Value);
                string inside = string.Join(", ", delta.Where(p => p.Value > 0 && p.Key is not ("evalsha" or "eval" or "evalsha_ro" or "eval_ro")).Select(p => $"{p.Key} {p.Value / (double)calls:0.##}"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"redis  {name,-32} {sentByClient.Count / (double)calls:F2} round trips per call ({string.Join(", ", sentByClient.GroupBy(c => c.Command).Select(g => $"{g.Key} {g.Count()}"))} sent by the client; the server ran {sent / (double)calls:F2} scripts per call); inside the script per call: {inside}; {elapsed.Elapsed.TotalMicroseconds / calls:F0} µs per call, sequential"));
            }

            connection.Dispose();
            await multiplexer.DisposeAsync();
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    private static void InMemory(int calls)
    {
        RateLimitRule window = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        RateLimitRule bucket = RateLimitRule.TokenBucket(1_000_000, TimeSpan.FromSeconds(1), 1);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        RateLimitRequest[] acquire = [new("tenant:acme", window), new("account", window)];
        RateLimitRequest[] reserve = [new("provider", bucket), new("account", window)];
        RateLimitEntry[] results = new RateLimitEntry[2];
        OutboundEmail message = new() { To = ["customer@example.com"], Sender = "noreply@app.example", TenantId = "acme", UserId = "user-42" };
        EmailSendGuard checkGuard = Guard(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), TimeProvider.System), window, window);
        EmailSendGuard reserveGuard = Guard(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), TimeProvider.System), bucket, window);
        (string Name, Func<bool> Call)[] kinds =
        [
            ("store acquire (2 windows)", () => Now(store.AcquireAsync(acquire, results)).IsAllowed),
            ("store reserve (bucket + window)", () => Now(store.ReserveAsync(reserve, MaxWait, results)).IsAllowed),
            ("guard check (6 dims, feedback)", () => Now(checkGuard.CheckAsync(message)).IsAllowed),
            ("guard reserve (6 dims, feedback)", () => Now(reserveGuard.ReserveAsync(message)).IsAllowed),
        ];

        foreach ((string name, Func<bool> call) in kinds)
        {
            for (int i = 0; i < 1_000; i++)
            {
                call();
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            Stopwatch elapsed = Stopwatch.StartNew();
            for (int i = 0; i < calls; i++)
            {
                if (!call())
                {
                    throw new InvalidOperationException($"{name} was denied; the figures would be a denial's.");
                }
            }

            elapsed.Stop();
            double bytes = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)calls;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"memory {name,-32} {bytes,7:F1} B allocated per call; {elapsed.Elapsed.TotalNanoseconds / calls,8:F0} ns per call"));
        }
    }

    private static T Now<T>(ValueTask<T> pending)
        => pending.IsCompletedSuccessfully ? pending.Result : throw new InvalidOperationException("An in-memory call went asynchronous.");

    private static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
    {
        Dictionary<string, long> calls = new(StringComparer.Ordinal);
        foreach (IGrouping<string, KeyValuePair<string, string>> section in await server.InfoAsync("commandstats"))
        {
            foreach (KeyValuePair<string, string> stat in section)
            {
                // cmdstat_evalsha: calls=12,usec=...
                string name = stat.Key.StartsWith("cmdstat_", StringComparison.Ordinal) ? stat.Key["cmdstat_".Length..] : stat.Key;
                string callsField = stat.Value.Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal));
                calls[name] = long.Parse(callsField["calls=".Length..], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }

    private static EmailSendGuard Guard(IRateLimitStore store, RateLimitRule global, RateLimitRule window)
        => BenchmarkGuards.Create(BenchmarkGuards.SixParties(global, window, new SendGuardOptions { MaxReservationWait = MaxWait }), store, countSends: true);
}
