using System.Globalization;
using System.Reflection;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Redis;

/// <summary>
/// Two builds of the Redis store over 10,000 keys in one process, against the raw script over 10,000 keys, in
/// alternating rounds on one redis-server: on a machine too loaded to compare runs made one after the other, every
/// build and the raw baseline see the same background load. Each build's EmailGuard assemblies are loaded from its
/// own output folder (StackExchange.Redis is shared), each on a connection of its own. Run with
/// <c>-- redis-throughput-compare &lt;folder&gt; &lt;folder&gt; [operations [rounds]]</c>, each folder a built
/// <c>tests/EmailGuard.Benchmarks/bin/Release/net10.0</c>.
/// </summary>
internal static class RedisBuildComparison
{
    public static async Task<int> RunAsync(string[] args)
    {
        string[] folders = [.. args.TakeWhile(arg => !char.IsAsciiDigit(arg[0]))];
        string[] numbers = [.. args.Skip(folders.Length)];
        int operations = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 200_000;
        int rounds = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 6;
        if (folders.Length != 2)
        {
            Console.Error.WriteLine("usage: redis-throughput-compare <folder> <folder> [operations [rounds]]");
            return 2;
        }

        await using BenchmarkRedis redis = await BenchmarkRedis.StartAsync();
        Func<Task> raw = new SpreadKeys(redis.Prefix).Raw(redis.Database);
        Func<Task>[] builds = [.. folders.Select((folder, b) => Load(folder, redis.Connect(), redis.Prefix + (char)('a' + b) + ":"))];

        await RedisThroughput.MeasureAsync(raw, Math.Min(operations, 10_000));
        foreach (Func<Task> build in builds)
        {
            await RedisThroughput.MeasureAsync(build, Math.Min(operations, 10_000));
        }

        RedisThroughputProfile profile = redis.Profile();
        double[,] rates = new double[3, rounds];
        for (int round = 0; round < rounds; round++)
        {
            // The raw baseline first, then the builds, every other round backwards, so neither build always follows the baseline.
            rates[0, round] = await profile.MeasureAsync("raw 10k keys", raw, operations);
            for (int i = 0; i < 2; i++)
            {
                int b = round % 2 == 0 ? i : 1 - i;
                rates[1 + b, round] = await profile.MeasureAsync("build " + (char)('A' + b) + " 10k keys", builds[b], operations);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rounds} alternating rounds of {operations:N0} acquires at 64 callers, store over 10,000 keys / raw script over 10,000 keys"));
        for (int b = 0; b < 2; b++)
        {
            double[] ratios = [.. Enumerable.Range(0, rounds).Select(r => rates[1 + b, r] / rates[0, r]).Order()];
            double[] versusA = [.. Enumerable.Range(0, rounds).Select(r => rates[1 + b, r] / rates[1, r]).Order()];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {(char)('A' + b)}: {folders[b]}: /raw median {ratios[rounds / 2]:F2} (rounds {string.Join(" ", ratios.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))}), /A median {versusA[rounds / 2]:F3}"));
        }

        profile.Print();
        return 0;
    }

    /// <summary>A build's acquires over 10,000 keys, from its own copy of the benchmarks, on its own connection.</summary>
    private static Func<Task> Load(string folder, ConnectionMultiplexer multiplexer, string prefix)
    {
        Type type = BuildLoadContext.LoadBenchmarkType(folder, typeof(RedisThroughput));
        MethodInfo create = type.GetMethod(nameof(RedisThroughput.CreateSpreadCaller), BindingFlags.Static | BindingFlags.NonPublic)!;
        return (Func<Task>)create.Invoke(null, [multiplexer, prefix])!;
    }
}
