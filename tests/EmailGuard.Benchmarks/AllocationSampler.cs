using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace EmailGuard.Benchmarks;

/// <summary>
/// Where the allocations of a measurement go, by type: the runtime's allocation-tick events (one about every 100 KB a
/// thread allocates, naming the type that crossed it) sampled in-process. Set <c>EMAILGUARD_ALLOCATION_SAMPLES=1</c>
/// and the harness prints the types with the most sampled bytes when it ends. Types are all it gives, no stacks: enough
/// to see which objects a path makes (reply trees, keys, arrays) before reading its code.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const string Runtime = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private const int AllocationTickId = 10;

    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private long _total;

    /// <summary>A sampler when <c>EMAILGUARD_ALLOCATION_SAMPLES</c> is set; otherwise none.</summary>
    public static AllocationSampler? FromEnvironment()
        => Environment.GetEnvironmentVariable("EMAILGUARD_ALLOCATION_SAMPLES") is { Length: > 0 } ? new AllocationSampler() : null;

    /// <summary>The types with the most sampled bytes, with their share of all sampled bytes.</summary>
    public void Print(int top = 25)
    {
        long total = Interlocked.Read(ref _total);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"allocation samples: {total / 1024.0 / 1024.0:N1} MB sampled"));
        foreach ((string type, long bytes) in _bytes.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {100.0 * bytes / Math.Max(1, total),5:N1}%  {type}"));
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == Runtime)
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventId != AllocationTickId || eventData.Payload is not { } payload || eventData.PayloadNames is not { } names)
        {
            return;
        }

        long amount = 0;
        string type = "?";
        for (int i = 0; i < names.Count; i++)
        {
            switch (names[i])
            {
                case "AllocationAmount64":
                    amount = Convert.ToInt64(payload[i], CultureInfo.InvariantCulture);
                    break;
                case "TypeName":
                    type = payload[i] as string ?? "?";
                    break;
            }
        }

        _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
        Interlocked.Add(ref _total, amount);
    }
}
