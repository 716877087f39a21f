using BenchmarkDotNet.Attributes;

namespace EmailGuard.Benchmarks.Resilience;

/// <summary>
/// What the resilient wrapper adds to a decision while the circuit is closed: nothing around the in-memory store
/// (called directly), and the breaker, pooled buffer copies and metrics checks around any other store.
/// </summary>
[MemoryDiagnoser]
public class ResilientStoreBenchmarks
{
    private readonly RateLimitRequest[] _requests = [new("tenant:acme", RateLimitRule.PerHour(RateLimitRule.MaxLimit))];
    private readonly RateLimitEntry[] _results = new RateLimitEntry[1];
    private InMemoryRateLimitStore _inMemory = null!;
    private ResilientRateLimitStore _overInMemory = null!;
    private ResilientRateLimitStore _overOtherStore = null!;
    private StoreCircuitBreaker _breaker = null!;

    [GlobalSetup]
    public void Setup()
    {
        _inMemory = new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        _overInMemory = new ResilientRateLimitStore(_inMemory, new StoreResilienceOptions(), TimeProvider.System);
        _overOtherStore = new ResilientRateLimitStore(new SynchronousStore(_inMemory), new StoreResilienceOptions(), TimeProvider.System);
        _breaker = new StoreCircuitBreaker(new StoreResilienceOptions(), TimeProvider.System);
    }

    [Benchmark(Baseline = true)]
    public RateLimitStatus InMemoryStore() => _inMemory.AcquireAsync(_requests, _results).Result.Status;

    [Benchmark]
    public RateLimitStatus WrapperOverInMemoryStore() => _overInMemory.AcquireAsync(_requests, _results, StoreFailureMode.FailOpen).Result.Status;

    [Benchmark]
    public RateLimitStatus WrapperOverOtherStore() => _overOtherStore.AcquireAsync(_requests, _results, StoreFailureMode.FailOpen).Result.Status;

    [Benchmark]
    public bool BreakerClosedCall() => _breaker.OnSuccess(_breaker.TryEnter());
}
