using System.Globalization;
using BenchmarkDotNet.Attributes;
using EmailGuard.Benchmarks.Resilience;

namespace EmailGuard.Benchmarks;

/// <summary>
/// What the in-memory store's bound costs. <c>TrackNewKeys</c> fills a fresh store with N distinct keys: its allocated
/// bytes divided by N are the memory per tracked key, which must not grow with N. <c>Overflow*</c> decide keys that found
/// the store full (their counts go to the overflow sketch), which must allocate nothing; <c>Exact</c> is the same
/// decision on a key that has a counter, for comparison.
/// </summary>
[MemoryDiagnoser]
public class InMemoryCapacityBenchmarks
{
    private const int Cap = 1_000;
    private const int OverflowKeys = 10_000;

    private static readonly DateTimeOffset s_now = new(2026, 11, 23, 4, 30, 0, TimeSpan.Zero);

    private readonly RateLimitRequest[] _request = new RateLimitRequest[1];
    private readonly RateLimitEntry[] _result = new RateLimitEntry[1];
    private string[] _newKeys = [];
    private string[] _overflowKeys = [];
    private InMemoryRateLimitStore _full = null!;
    private RateLimitRule _fixed = null!;
    private RateLimitRule _sliding = null!;
    private int _next;

    /// <summary>The number of distinct keys <see cref="TrackNewKeys"/> adds to a fresh store.</summary>
    [Params(10_000, 100_000)]
    public int Keys { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _newKeys = Enumerable.Range(0, Keys).Select(i => string.Create(CultureInfo.InvariantCulture, $"rcpt:{i:x8}{i * 2654435761L:x8}")).ToArray();
        _overflowKeys = Enumerable.Range(0, OverflowKeys).Select(i => string.Create(CultureInfo.InvariantCulture, $"flood:{i:x8}")).ToArray();
        _fixed = RateLimitRule.PerHour(RateLimitRule.MaxLimit);
        _sliding = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromHours(1), 10);
        _full = new InMemoryRateLimitStore(
            new InMemoryRateLimitStoreOptions { MaxTrackedKeys = Cap, SweepInterval = TimeSpan.FromDays(1) }, new FixedTimeProvider(s_now));
        for (int i = 0; i < Cap; i++)
        {
            _request[0] = new RateLimitRequest(_newKeys[i], _fixed);
            _ = _full.AcquireAsync(_request, _result).Result;
        }

        // Every overflow key once per rule, so the sketches exist before measuring.
        foreach (string key in _overflowKeys)
        {
            _request[0] = new RateLimitRequest(key, _fixed);
            _ = _full.AcquireAsync(_request, _result).Result;
            _request[0] = new RateLimitRequest(key, _sliding);
            _ = _full.AcquireAsync(_request, _result).Result;
        }
    }

    /// <summary>Allocated bytes / <see cref="Keys"/> = memory per tracked key (counter, dictionary node and shape share).</summary>
    [Benchmark]
    public int TrackNewKeys()
    {
        InMemoryRateLimitStore store = new(
            new InMemoryRateLimitStoreOptions { MaxTrackedKeys = Keys, SweepInterval = TimeSpan.FromDays(1) }, new FixedTimeProvider(s_now));
        RateLimitRequest[] request = new RateLimitRequest[1];
        foreach (string key in _newKeys)
        {
            request[0] = new RateLimitRequest(key, _fixed);
            _ = store.AcquireAsync(request, default).Result;
        }

        return store.TrackedKeys;
    }

    [Benchmark(Description = "Exact fixed window, key with a counter")]
    public bool Exact()
    {
        _request[0] = new RateLimitRequest(_newKeys[_next++ % Cap], _fixed);
        return _full.AcquireAsync(_request, _result).Result.IsAllowed;
    }

    [Benchmark(Description = "Overflow fixed window, store full")]
    public bool OverflowFixed()
    {
        _request[0] = new RateLimitRequest(NextOverflowKey(), _fixed);
        return _full.AcquireAsync(_request, _result).Result.IsAllowed;
    }

    [Benchmark(Description = "Overflow sliding window x10, store full")]
    public bool OverflowSliding()
    {
        _request[0] = new RateLimitRequest(NextOverflowKey(), _sliding);
        return _full.AcquireAsync(_request, _result).Result.IsAllowed;
    }

    private string NextOverflowKey()
    {
        _next = _next + 1 == OverflowKeys ? 0 : _next + 1;
        return _overflowKeys[_next];
    }
}
