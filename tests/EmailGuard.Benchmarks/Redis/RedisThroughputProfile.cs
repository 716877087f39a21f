using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace EmailGuard.Benchmarks.Redis;

/// <summary>
/// Where a throughput scenario's time goes, summed over its rounds: this process's CPU (the app and the load
/// generator), the Redis server's CPU, Redis commands and their server time (<c>INFO commandstats</c>), bytes
/// allocated, bytes on the wire each way (<c>INFO stats</c>), and the batches the store's batcher sent, all per operation.
/// </summary>
/// <remarks>
/// The 2 cores are shared by this process and Redis: client µs/op + Redis µs/op bounds the rate at about
/// 2,000,000 / (client + Redis) ops/s, whatever the clients do.
/// </remarks>
internal sealed class RedisThroughputProfile(IServer server, Func<(long Batches, long Members)> batcher)
{
    private readonly Dictionary<string, Totals> _totals = [];
    private readonly List<string> _order = [];

    public async Task<double> MeasureAsync(string name, Func<Task> call, int operations)
    {
        (double redisCpu, Dictionary<string, (long Calls, long Usec)> commands) = await ReadServerAsync();
        (long netIn, long netOut) = await ReadNetworkAsync();
        (long batches, long members) = batcher();
        long allocated = GC.GetTotalAllocatedBytes();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;

        double rate = await RedisThroughput.MeasureAsync(call, operations);

        TimeSpan cpuAfter = Process.GetCurrentProcess().TotalProcessorTime;
        long allocatedAfter = GC.GetTotalAllocatedBytes();
        (long batchesAfter, long membersAfter) = batcher();
        (double redisCpuAfter, Dictionary<string, (long Calls, long Usec)> commandsAfter) = await ReadServerAsync();
        (long netInAfter, long netOutAfter) = await ReadNetworkAsync();

        if (!_totals.TryGetValue(name, out Totals? totals))
        {
            totals = new Totals();
            _totals[name] = totals;
            _order.Add(name);
        }

        totals.Operations += operations;
        totals.ClientCpuUs += (cpuAfter - cpu).TotalMicroseconds;
        totals.RedisCpuUs += (redisCpuAfter - redisCpu) * 1_000_000;
        totals.Allocated += allocatedAfter - allocated;
        totals.Batches += batchesAfter - batches;
        totals.BytesToRedis += netInAfter - netIn;
        totals.BytesFromRedis += netOutAfter - netOut;
        totals.Members += membersAfter - members;
        foreach ((string command, (long calls, long usec)) in commandsAfter)
        {
            (long callsBefore, long usecBefore) = commands.GetValueOrDefault(command);
            (long c, long u) = totals.Commands.GetValueOrDefault(command);
            totals.Commands[command] = (c + calls - callsBefore, u + usec - usecBefore);
        }

        return rate;
    }

    public void Print()
    {
        Console.WriteLine("where the time goes, per operation, over all rounds (client = this process: app + load generator):");
        foreach (string name in _order)
        {
            Totals t = _totals[name];
            double n = t.Operations;
            string commands = string.Join(", ", t.Commands
                .Where(c => c.Value.Calls > 0)
                .OrderByDescending(c => c.Value.Usec)
                .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.Value.Calls / n:0.###}/op {(double)c.Value.Usec / c.Value.Calls:0.0} us/call")));
            string batches = t.Batches > 0 ? string.Create(CultureInfo.InvariantCulture, $", batches {t.Batches / n:0.###}/op of {(double)t.Members / t.Batches:0.0} members") : "";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-26} client {t.ClientCpuUs / n,6:0.0} us  redis {t.RedisCpuUs / n,6:0.0} us  alloc {t.Allocated / n,6:0} B  wire {t.BytesToRedis / n,5:0} B out {t.BytesFromRedis / n,4:0} B in{batches}; {commands}"));
        }
    }

    /// <summary>Bytes Redis has read from and written to its clients so far (the bench's INFO calls add a few hundred per round).</summary>
    private async Task<(long In, long Out)> ReadNetworkAsync()
    {
        long read = 0, written = 0;
        foreach (KeyValuePair<string, string> pair in (await server.InfoAsync("stats")).SelectMany(g => g))
        {
            if (pair.Key == "total_net_input_bytes")
            {
                read = long.Parse(pair.Value, CultureInfo.InvariantCulture);
            }
            else if (pair.Key == "total_net_output_bytes")
            {
                written = long.Parse(pair.Value, CultureInfo.InvariantCulture);
            }
        }

        return (read, written);
    }

    private async Task<(double Cpu, Dictionary<string, (long Calls, long Usec)> Commands)> ReadServerAsync()
    {
        IGrouping<string, KeyValuePair<string, string>>[] info = await server.InfoAsync("cpu");
        double cpu = 0;
        foreach (KeyValuePair<string, string> pair in info.SelectMany(g => g))
        {
            if (pair.Key is "used_cpu_user" or "used_cpu_sys")
            {
                cpu += double.Parse(pair.Value, CultureInfo.InvariantCulture);
            }
        }

        Dictionary<string, (long, long)> commands = [];
        foreach (KeyValuePair<string, string> pair in (await server.InfoAsync("commandstats")).SelectMany(g => g))
        {
            long calls = 0, usec = 0;
            foreach (string field in pair.Value.Split(','))
            {
                string[] kv = field.Split('=');
                if (kv[0] == "calls")
                {
                    calls = long.Parse(kv[1], CultureInfo.InvariantCulture);
                }
                else if (kv[0] == "usec")
                {
                    usec = long.Parse(kv[1], CultureInfo.InvariantCulture);
                }
            }

            commands[pair.Key.Replace("cmdstat_", "", StringComparison.Ordinal)] = (calls, usec);
        }

        return (cpu, commands);
    }

    private sealed class Totals
    {
        public long Operations;
        public double ClientCpuUs;
        public double RedisCpuUs;
        public long Allocated;
        public long Batches;
        public long Members;
        public long BytesToRedis;
        public long BytesFromRedis;
        public Dictionary<string, (long Calls, long Usec)> Commands { get; } = [];
    }
}
