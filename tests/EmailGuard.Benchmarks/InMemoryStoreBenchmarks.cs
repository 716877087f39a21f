using System.Globalization;
using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;

namespace EmailGuard.Benchmarks;

/// <summary>
/// The cost of one decision on the in-memory store against the framework's partitioned limiter, over 10,000 live
/// keys visited round-robin (so every call is a dictionary lookup of a different key, as with client IPs). Limits are
/// out of reach, so every call is admitted and the numbers are the hot path alone.
/// </summary>
[MemoryDiagnoser]
public class InMemoryStoreBenchmarks
{
    private const int KeyCount = 10_000;
    private const int MultiKeyCount = 5;

    private readonly RateLimitRequest[] _request = new RateLimitRequest[1];
    private readonly RateLimitEntry[] _result = new RateLimitEntry[1];
    private readonly RateLimitRequest[] _multiRequest = new RateLimitRequest[MultiKeyCount];
    private readonly RateLimitEntry[] _multiResult = new RateLimitEntry[MultiKeyCount];
    private string[] _keys = [];
    private InMemoryRateLimitStore _store = null!;
    private RateLimitRule _fixedRule = null!;
    private RateLimitRule _slidingRule = null!;
    private PartitionedRateLimiter<string> _partitioned = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _keys = new string[KeyCount];
        for (int i = 0; i < KeyCount; i++)
        {
            _keys[i] = string.Create(CultureInfo.InvariantCulture, $"ip:10.{i >> 16}.{(i >> 8) & 0xFF}.{i & 0xFF}");
        }

        _store = new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 4 * KeyCount }, TimeProvider.System);
        _fixedRule = RateLimitRule.PerMinute(RateLimitRule.MaxLimit);
        _slidingRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromMinutes(1), 10);
        _partitioned = PartitionedRateLimiter.Create<string, string>(static key => RateLimitPartition.GetFixedWindowLimiter(
            key,
            static _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = int.MaxValue,
                Window = TimeSpan.FromMinutes(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));

        foreach (string key in _keys)
        {
            _request[0] = new RateLimitRequest(key, _fixedRule);
            _ = _store.AcquireAsync(_request, _result).Result;
            _request[0] = new RateLimitRequest(key, _slidingRule);
            _ = _store.AcquireAsync(_request, _result).Result;
            using RateLimitLease lease = _partitioned.AttemptAcquire(key);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _partitioned.Dispose();

    [Benchmark(Baseline = true, Description = "PartitionedRateLimiter fixed window, 1 key")]
    public bool PartitionedFixedWindow()
    {
        using RateLimitLease lease = _partitioned.AttemptAcquire(NextKey());
        return lease.IsAcquired;
    }

    [Benchmark(Description = "InMemory fixed window, 1 key")]
    public bool InMemoryFixedWindow()
    {
        _request[0] = new RateLimitRequest(NextKey(), _fixedRule);
        return _store.AcquireAsync(_request, _result).Result.IsAllowed;
    }

    [Benchmark(Description = "InMemory sliding window x10, 1 key")]
    public bool InMemorySlidingWindow()
    {
        _request[0] = new RateLimitRequest(NextKey(), _slidingRule);
        return _store.AcquireAsync(_request, _result).Result.IsAllowed;
    }

    [Benchmark(Description = "InMemory fixed window, 5 keys")]
    public bool InMemoryFixedWindowFiveKeys()
    {
        for (int i = 0; i < MultiKeyCount; i++)
        {
            _multiRequest[i] = new RateLimitRequest(NextKey(), _fixedRule);
        }

        return _store.AcquireAsync(_multiRequest, _multiResult).Result.IsAllowed;
    }

    private string NextKey()
    {
        int next = _next + 1;
        _next = next == KeyCount ? 0 : next;
        return _keys[_next];
    }
}
