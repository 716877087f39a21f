using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// An app that starts while Redis is unreachable. StackExchange.Redis alone would hold the first calls for its connect
/// timeout (10 s here, ~5 s by default); EmailGuard's timeout must cut every one of them.
/// </summary>
public sealed class RedisDeadAtStartupTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_looseCallBound = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(StoreFailureMode.FailOpen, RateLimitStatus.AllowedUnguarded)]
    [InlineData(StoreFailureMode.FailClosed, RateLimitStatus.StoreUnavailable)]
    [InlineData(StoreFailureMode.LocalFallback, RateLimitStatus.Allowed)]
    public async Task AcquireAsync_RedisUnreachableFromTheStart_EveryCallGetsTheModeOutcomeWithoutWaitingForTheClient(StoreFailureMode mode, RateLimitStatus expected)
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddRedisStore(o => o.Configuration = $"127.0.0.1:{UnusedPort()},connectTimeout=10000,asyncTimeout=10000");
        await using ServiceProvider provider = services.BuildServiceProvider();
        ResilientRateLimitStore store = provider.GetRequiredService<ResilientRateLimitStore>();
        RateLimitRequest[] request = [new("first", RateLimitRule.PerHour(1000))];

        Task<(RateLimitDecision Decision, TimeSpan Duration)>[] calls = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            long started = Stopwatch.GetTimestamp();
            RateLimitDecision decision = await store.AcquireAsync(request, default, mode);
            return (decision, Stopwatch.GetElapsedTime(started));
        })).ToArray();
        (RateLimitDecision Decision, TimeSpan Duration)[] results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"{mode}: slowest of 64 first calls {results.Max(r => r.Duration).TotalMilliseconds:0} ms; circuit {store.CircuitState}");
        results.Should().OnlyContain(r => r.Decision.Status == expected);
        results.Should().OnlyContain(r => r.Duration < s_looseCallBound);
        store.CircuitState.Should().Be(StoreCircuitState.Open);
    }

    private static int UnusedPort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
