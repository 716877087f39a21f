using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>A wrapper over a <see cref="FakeRateLimitStore"/> on fake time, with a fake logger and isolated metrics.</summary>
internal sealed class ResilienceHarness : IDisposable
{
    public static readonly RateLimitRule TenPerMinute = RateLimitRule.PerMinute(10);

    public ResilienceHarness(Action<StoreResilienceOptions>? configure = null)
    {
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 4, 0, 0, TimeSpan.Zero));
        Options = new StoreResilienceOptions { ConsecutiveFailureThreshold = 3, BreakDuration = TimeSpan.FromSeconds(5) };
        configure?.Invoke(Options);
        Store = new FakeRateLimitStore(Time);
        Logger = new FakeLogger<ResilientRateLimitStore>();
        MeterFactory = new TestMeterFactory();
        Metrics = new EmailGuardMetrics(MeterFactory);
        Resilient = new ResilientRateLimitStore(Store, Options, Time, Logger, Metrics);
    }

    public FakeTimeProvider Time { get; }

    public StoreResilienceOptions Options { get; }

    public FakeRateLimitStore Store { get; }

    public FakeLogger<ResilientRateLimitStore> Logger { get; }

    public TestMeterFactory MeterFactory { get; }

    public EmailGuardMetrics Metrics { get; }

    public ResilientRateLimitStore Resilient { get; }

    public static RateLimitRequest[] One(string key, RateLimitRule? rule = null, long cost = 1) => [new(key, rule ?? TenPerMinute, cost)];

    public ValueTask<RateLimitDecision> AcquireAsync(string key, StoreFailureMode mode = StoreFailureMode.FailOpen, RateLimitRule? rule = null, CancellationToken cancellationToken = default)
        => Resilient.AcquireAsync(One(key, rule), Memory<RateLimitEntry>.Empty, mode, cancellationToken);

    /// <summary>Fails <paramref name="count"/> calls in a row.</summary>
    public async Task FailAsync(int count)
    {
        FakeStoreBehavior previous = Store.Behavior;
        Store.Behavior = FakeStoreBehavior.Fail;
        for (int i = 0; i < count; i++)
        {
            await AcquireAsync("fail");
        }

        Store.Behavior = previous;
    }

    public IEnumerable<int> EventIds() => Logger.Collector.GetSnapshot().Select(r => r.Id.Id);

    public void Dispose()
    {
        Metrics.Dispose();
        MeterFactory.Dispose();
    }
}
