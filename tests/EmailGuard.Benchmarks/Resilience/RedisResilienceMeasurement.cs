using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Resilience;

/// <summary>
/// Decision latency at 64 concurrent callers through the resilient store on a real local redis-server, and how long
/// the circuit breaker takes to open when Redis dies under that load and to close when it comes back. Report only:
/// numbers from a shared 2-core machine are indicative.
/// </summary>
internal static class RedisResilienceMeasurement
{
    private const int Callers = 64;
    private const int CallsPerCaller = 300;

    public static async Task RunAsync()
    {
        RedisServerFixture redis = new();
        await redis.InitializeAsync();
        try
        {
            Console.WriteLine($"Redis: {redis.Source} at {redis.ConnectionString}");
            // Latency with a generous timeout, so that the numbers are Redis's and the machine's, not cut by the wrapper;
            // the share of calls above the default 250 ms timeout says how often the default would have fallen back.
            await using (ServiceProvider provider = Build(redis, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(5) }))
            {
                ResilientRateLimitStore store = provider.GetRequiredService<ResilientRateLimitStore>();
                await LatencyAsync(store, "1 key per acquire", i => [new($"ip:10.0.0.{i % 64}", RateLimitRule.PerMinute(RateLimitRule.MaxLimit))]);
                await LatencyAsync(store, "4 keys per acquire (global, tenant, sender, recipient)", FourKeys);
            }

            if (!redis.CanControlServer)
            {
                Console.WriteLine("breaker: skipped, Redis does not come from a local redis-server this program can stop");
                return;
            }

            foreach (StoreResilienceOptions options in new[] { new StoreResilienceOptions(), new StoreResilienceOptions { BreakDuration = TimeSpan.FromSeconds(1) } })
            {
                await using ServiceProvider provider = Build(redis, options);
                await BreakerAsync(redis, provider.GetRequiredService<ResilientRateLimitStore>(), options);
            }
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    /// <summary>The same latency measurement on a local three-master Redis Cluster, where a 4-key acquire spans slots.</summary>
    public static async Task RunClusterAsync()
    {
        RedisClusterFixture cluster = new();
        await cluster.InitializeAsync();
        try
        {
            Console.WriteLine($"Redis Cluster: {cluster.ConnectionString}");
            StoreResilienceOptions resilience = new() { Timeout = TimeSpan.FromSeconds(5) };
            await using ServiceProvider provider = Build(ConfigurationOptions.Parse(cluster.ConnectionString), resilience);
            await using ServiceProvider unbatchedProvider = Build(ConfigurationOptions.Parse(cluster.ConnectionString), resilience, batchAcrossKeys: false);
            ResilientRateLimitStore store = provider.GetRequiredService<ResilientRateLimitStore>();
            ResilientRateLimitStore unbatched = unbatchedProvider.GetRequiredService<ResilientRateLimitStore>();
            ConfigurationOptions probeOptions = ConfigurationOptions.Parse(cluster.ConnectionString);
            probeOptions.AllowAdmin = true;
            using ConnectionMultiplexer probe = await ConnectionMultiplexer.ConnectAsync(probeOptions);
            Func<Task<(double CpuSeconds, long Scripts)>> redisCost = () => RedisCostAsync(probe);
            await LatencyAsync(store, "cluster, 1 key per acquire", i => [new($"ip:10.0.0.{i % 64}", RateLimitRule.PerMinute(RateLimitRule.MaxLimit))]);

            // One round of each first, not counted: the first round of 4-key acquires runs before tiered compilation has
            // finished with the cross-slot path and measured about half the later rounds' rate, with either setting.
            await LatencyAsync(unbatched, "warm-up, not counted: cluster, 4 keys per acquire across slots, batching across keys off", FourKeys);
            await LatencyAsync(store, "warm-up, not counted: cluster, 4 keys per acquire across slots, batching across keys on", FourKeys);

            // Batching across keys on and off in alternating rounds, so machine noise hits both alike; medians compared.
            List<double> batchedRounds = [];
            List<double> unbatchedRounds = [];
            for (int round = 0; round < 3; round++)
            {
                unbatchedRounds.Add(await LatencyAsync(unbatched, "cluster, 4 keys per acquire across slots, batching across keys off", FourKeys, redisCost));
                batchedRounds.Add(await LatencyAsync(store, "cluster, 4 keys per acquire across slots, batching across keys on", FourKeys, redisCost));
            }

            double batched = batchedRounds.Order().ElementAt(1);
            double without = unbatchedRounds.Order().ElementAt(1);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cluster, 4 keys across slots: {batched:N0} decisions/s batched, {without:N0} without (median of 3): {batched / without:F2}x"));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private static RateLimitRequest[] FourKeys(int i) =>
    [
        new("global", RateLimitRule.PerHour(RateLimitRule.MaxLimit)),
        new($"tenant:{i % 8}", RateLimitRule.PerHour(RateLimitRule.MaxLimit)),
        new($"sender:{i % 64}", RateLimitRule.PerHour(RateLimitRule.MaxLimit)),
        new($"rcpt:{i}", RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromHours(1), 10)),
    ];

    private static ServiceProvider Build(RedisServerFixture redis, StoreResilienceOptions resilience)
        => Build(redis.CreateConfiguration(), resilience);

    private static ServiceProvider Build(ConfigurationOptions configuration, StoreResilienceOptions resilience, bool batchAcrossKeys = true)
    {
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 500;
        configuration.ReconnectRetryPolicy = new LinearRetry(200);
        ServiceCollection services = new();
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.ConfigurationOptions = configuration;
            o.KeyPrefix = "bench:" + RedisServerFixture.UniquePrefix();
            o.BatchAcrossKeys = batchAcrossKeys;
        });
        services.Configure<StoreResilienceOptions>(o =>
        {
            o.Timeout = resilience.Timeout;
            o.BreakDuration = resilience.BreakDuration;
            o.ConsecutiveFailureThreshold = resilience.ConsecutiveFailureThreshold;
        });
        return services.BuildServiceProvider();
    }

    /// <summary>Redis's CPU seconds (user and system) and script calls so far, summed over the masters.</summary>
    private static async Task<(double CpuSeconds, long Scripts)> RedisCostAsync(ConnectionMultiplexer probe)
    {
        double cpu = 0;
        long scripts = 0;
        foreach (IServer server in probe.GetServers().Where(s => !s.IsReplica))
        {
            foreach (IGrouping<string, KeyValuePair<string, string>> section in (await server.InfoAsync("cpu")).Concat(await server.InfoAsync("commandstats")))
            {
                foreach (KeyValuePair<string, string> pair in section)
                {
                    if (pair.Key is "used_cpu_sys" or "used_cpu_user")
                    {
                        cpu += double.Parse(pair.Value, CultureInfo.InvariantCulture);
                    }
                    else if (pair.Key is "cmdstat_evalsha" or "cmdstat_eval")
                    {
                        string calls = pair.Value.Split(',')[0];
                        scripts += long.Parse(calls["calls=".Length..], CultureInfo.InvariantCulture);
                    }
                }
            }
        }

        return (cpu, scripts);
    }

    /// <returns>The decisions per second.</returns>
    private static async Task<double> LatencyAsync(
        ResilientRateLimitStore store, string name, Func<int, RateLimitRequest[]> requests, Func<Task<(double CpuSeconds, long Scripts)>>? redisCost = null)
    {
        // Warm up: connect, load the script, JIT.
        for (int i = 0; i < 200; i++)
        {
            await store.AcquireAsync(requests(i), default, StoreFailureMode.FailClosed);
        }

        ConcurrentBag<double[]> perCaller = [];
        int unavailable = 0;
        (double CpuSeconds, long Scripts) redisBefore = redisCost is null ? default : await redisCost();
        TimeSpan clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
        Stopwatch total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            double[] durations = new double[CallsPerCaller];
            RateLimitEntry[] results = new RateLimitEntry[4];
            for (int i = 0; i < CallsPerCaller; i++)
            {
                RateLimitRequest[] batch = requests(caller * CallsPerCaller + i);
                long started = Stopwatch.GetTimestamp();
                RateLimitDecision decision = await store.AcquireAsync(batch, results.AsMemory(0, batch.Length), StoreFailureMode.FailClosed);
                durations[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (decision.Status == RateLimitStatus.StoreUnavailable)
                {
                    Interlocked.Increment(ref unavailable);
                }
            }

            perCaller.Add(durations);
        })));
        total.Stop();
        TimeSpan clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientBefore;
        (double CpuSeconds, long Scripts) redisAfter = redisCost is null ? default : await redisCost();

        double[] all = perCaller.SelectMany(d => d).Order().ToArray();
        double rate = all.Length / total.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"latency, {name}, {Callers} callers x {CallsPerCaller}: p50 {Percentile(all, 0.50):0.00} ms, p99 {Percentile(all, 0.99):0.00} ms, "
            + $"max {all[^1]:0.0} ms, {rate:N0} decisions/s; above 250 ms {all.Count(d => d > 250)}, store unavailable {unavailable}"));
        string redisPart = redisCost is null ? string.Empty : string.Create(CultureInfo.InvariantCulture,
            $", Redis CPU {(redisAfter.CpuSeconds - redisBefore.CpuSeconds) * 1e6 / all.Length:0.0} us, {(double)(redisAfter.Scripts - redisBefore.Scripts) / all.Length:0.00} script calls");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  cost per decision: client CPU {clientCpu.TotalMicroseconds / all.Length:0.0} us{redisPart}"));
        return rate;
    }

    private static async Task BreakerAsync(RedisServerFixture redis, ResilientRateLimitStore store, StoreResilienceOptions options)
    {
        using CancellationTokenSource stop = new();
        ConcurrentBag<double> slowest = [];
        Task load = Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            RateLimitRequest[] request = [new($"breaker:{caller}", RateLimitRule.PerMinute(RateLimitRule.MaxLimit))];
            double max = 0;
            for (int i = 0; i < 1_000_000 && !stop.IsCancellationRequested; i++)
            {
                long started = Stopwatch.GetTimestamp();
                await store.AcquireAsync(request, default, StoreFailureMode.LocalFallback);
                max = Math.Max(max, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
            }

            slowest.Add(max);
        })));

        await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System);
        long killed = Stopwatch.GetTimestamp();
        redis.Stop();
        TimeSpan? opened = await WaitForAsync(() => store.CircuitState == StoreCircuitState.Open, killed);

        await Task.Delay(TimeSpan.FromSeconds(3), TimeProvider.System);
        long restarting = Stopwatch.GetTimestamp();
        Task started = redis.StartAsync();
        TimeSpan? closed = await WaitForAsync(() => store.CircuitState == StoreCircuitState.Closed, restarting);
        await started;

        await stop.CancelAsync();
        await load.WaitAsync(TimeSpan.FromSeconds(60));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"breaker (timeout {options.Timeout.TotalMilliseconds:0} ms, {options.ConsecutiveFailureThreshold} consecutive failures, break {options.BreakDuration.TotalSeconds:0} s), {Callers} callers:"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  opened {opened?.TotalMilliseconds:0} ms after redis-server was killed; slowest call of the whole run {slowest.Max():0} ms"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  circuit closed {closed?.TotalMilliseconds:0} ms after redis-server was started again (at the first probe once the break is over)"));
    }

    private static async Task<TimeSpan?> WaitForAsync(Func<bool> condition, long since)
    {
        while (Stopwatch.GetElapsedTime(since) < TimeSpan.FromSeconds(60))
        {
            if (condition())
            {
                return Stopwatch.GetElapsedTime(since);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(1), TimeProvider.System);
        }

        return null;
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
