using System.Collections.Concurrent;
using System.Net.Sockets;

namespace EmailGuard.Tests.Resilience;

public sealed class ResilientRateLimitStoreTests
{
    /// <summary>Guards awaits against a hang; the tests never assert on how long anything took.</summary>
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(30);

    public static TheoryData<Exception> StoreExceptions => new()
    {
        new InvalidOperationException("down"),
        new TimeoutException("slow"),
        new IOException("reset"),
        new SocketException((int)SocketError.ConnectionRefused),
        new OperationCanceledException("cancelled by the store, not by the caller"),
        new TaskCanceledException("cancelled by the store's client"),
        new NullReferenceException("bug in the store"),
        new AggregateException(new InvalidOperationException("inner")),
        new ObjectDisposedException("multiplexer"),
        new FormatException("bad reply"),
    };

    [Fact]
    public async Task AcquireAsync_StoreHealthy_ReturnsStoreDecisionAndEntries()
    {
        using ResilienceHarness harness = new();
        RateLimitEntry[] results = new RateLimitEntry[1];

        RateLimitDecision decision = await harness.Resilient.AcquireAsync(ResilienceHarness.One("a", cost: 4), results, StoreFailureMode.FailClosed);

        decision.Status.Should().Be(RateLimitStatus.Allowed);
        results[0].Count.Should().Be(4);
        results[0].Limit.Should().Be(10);
        harness.Store.Calls.Should().Be(1);
    }

    [Fact]
    public async Task AcquireAsync_StoreHealthyAndLimitReached_ReturnsLimitExceeded()
    {
        using ResilienceHarness harness = new();
        await harness.Resilient.AcquireAsync(ResilienceHarness.One("a", cost: 10), default, StoreFailureMode.FailOpen);

        RateLimitDecision decision = await harness.AcquireAsync("a");

        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
    }

    [Theory]
    [MemberData(nameof(StoreExceptions))]
    public async Task AcquireAsync_StoreFaultsWithAnyException_FailOpenAdmitsUnguarded(Exception exception)
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        harness.Store.Exception = () => exception;

        RateLimitDecision decision = await harness.AcquireAsync("a", StoreFailureMode.FailOpen);

        decision.Status.Should().Be(RateLimitStatus.AllowedUnguarded);
        decision.IsAllowed.Should().BeTrue();
    }

    [Theory]
    [MemberData(nameof(StoreExceptions))]
    public async Task AcquireAsync_StoreThrowsSynchronouslyWithAnyException_FailClosedDeniesAsUnavailable(Exception exception)
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.ThrowSynchronously;
        harness.Store.Exception = () => exception;

        RateLimitDecision decision = await harness.AcquireAsync("a", StoreFailureMode.FailClosed);

        decision.Status.Should().Be(RateLimitStatus.StoreUnavailable);
        decision.IsAllowed.Should().BeFalse();
        decision.RetryAfter.Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task AcquireAsync_FailClosedWhileCircuitOpen_RetryAfterIsTheRemainingBreak()
    {
        using ResilienceHarness harness = new(o => o.BreakDuration = TimeSpan.FromSeconds(30));
        await harness.FailAsync(3);
        harness.Time.Advance(TimeSpan.FromSeconds(10));

        RateLimitDecision decision = await harness.AcquireAsync("a", StoreFailureMode.FailClosed);

        decision.Status.Should().Be(RateLimitStatus.StoreUnavailable);
        decision.RetryAfter.Should().Be(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task AcquireAsync_FailOpenOrClosed_ClearsTheResultsBuffer()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        RateLimitEntry[] results = [new RateLimitEntry(true, 5, 5, TimeSpan.Zero, DateTimeOffset.MaxValue)];

        await harness.Resilient.AcquireAsync(ResilienceHarness.One("a"), results, StoreFailureMode.FailOpen);

        results[0].Should().Be(default(RateLimitEntry));
    }

    [Fact]
    public async Task AcquireAsync_StoreFailsWithLocalFallback_EnforcesTheLimitLocally()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        RateLimitRule rule = RateLimitRule.PerMinute(3);

        List<RateLimitStatus> statuses = [];
        for (int i = 0; i < 5; i++)
        {
            statuses.Add((await harness.AcquireAsync("a", StoreFailureMode.LocalFallback, rule)).Status);
        }

        statuses.Should().Equal(
            RateLimitStatus.Allowed, RateLimitStatus.Allowed, RateLimitStatus.Allowed, RateLimitStatus.LimitExceeded, RateLimitStatus.LimitExceeded);
    }

    [Theory]
    [InlineData(100, 3, 33)]
    [InlineData(10, 4, 2)]
    [InlineData(10, 10, 1)]
    [InlineData(3, 8, 0)]
    [InlineData(1, 3, 0)]
    [InlineData(7, 1, 7)]
    public async Task AcquireAsync_LocalFallbackWithInstances_EnforcesLimitDividedByInstanceCount(long limit, int instances, int expectedAdmitted)
    {
        using ResilienceHarness harness = new(o => o.InstanceCount = instances);
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        RateLimitRule rule = RateLimitRule.PerHour(limit);
        RateLimitEntry[] results = new RateLimitEntry[1];

        int admitted = 0;
        for (int i = 0; i < limit + 5; i++)
        {
            RateLimitDecision decision = await harness.Resilient.AcquireAsync(ResilienceHarness.One("victim", rule), results, StoreFailureMode.LocalFallback);
            admitted += decision.Status == RateLimitStatus.Allowed ? 1 : 0;
        }

        admitted.Should().Be(expectedAdmitted);
        results[0].Limit.Should().Be(expectedAdmitted);
    }

    [Theory]
    [InlineData(100, 4, 25)]
    [InlineData(100, 3, 33)]
    [InlineData(2, 5, 0)]
    public void Share_WithoutInstanceIndex_IsTheLimitDividedRoundedDown(long limit, int instances, long expected)
    {
        using ResilienceHarness harness = new(o => o.InstanceCount = instances);

        long share = harness.Resilient.Local.Share(RateLimitRule.PerHour(limit), "any");

        share.Should().Be(expected);
    }

    [Fact]
    public async Task AcquireAsync_StoreThrowsArgumentException_Propagates()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        harness.Store.Exception = () => new ArgumentException("bad", "requests");

        Func<Task> act = async () => await harness.AcquireAsync("a", StoreFailureMode.FailOpen);

        await act.Should().ThrowAsync<ArgumentException>();
    }

    [Theory]
    [InlineData(StoreFailureMode.FailOpen)]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task AcquireAsync_InvalidRequestWhileCircuitOpen_ThrowsArgumentException(StoreFailureMode mode)
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);

        Func<Task> act = async () => await harness.Resilient.AcquireAsync(ResilienceHarness.One("a", cost: 0), default, mode);

        await act.Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task AcquireAsync_CallerCancelsWhileStoreHangs_ThrowsOperationCanceled()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        using CancellationTokenSource cts = new();

        Task<RateLimitDecision> call = harness.AcquireAsync("a", StoreFailureMode.FailOpen, cancellationToken: cts.Token).AsTask();
        await cts.CancelAsync();
        Func<Task> act = () => call.WaitAsync(s_hangGuard);

        await act.Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task AcquireAsync_CallerAlreadyCancelled_ThrowsOperationCanceledWithoutCallingStore()
    {
        using ResilienceHarness harness = new();

        Func<Task> act = async () => await harness.AcquireAsync("a", StoreFailureMode.FailOpen, cancellationToken: new CancellationToken(canceled: true));

        await act.Should().ThrowAsync<OperationCanceledException>();
        harness.Store.Calls.Should().Be(0);
    }

    [Theory]
    [InlineData(StoreFailureMode.FailOpen, RateLimitStatus.AllowedUnguarded)]
    [InlineData(StoreFailureMode.FailClosed, RateLimitStatus.StoreUnavailable)]
    [InlineData(StoreFailureMode.LocalFallback, RateLimitStatus.Allowed)]
    public async Task AcquireAsync_StoreHangs_AnswersWithTheFailureModeOnceTheTimeoutPasses(StoreFailureMode mode, RateLimitStatus expected)
    {
        using ResilienceHarness harness = new(o => o.Timeout = TimeSpan.FromMilliseconds(250));
        harness.Store.Behavior = FakeStoreBehavior.Hang;

        Task<RateLimitDecision> call = harness.AcquireAsync("a", mode).AsTask();
        harness.Time.Advance(TimeSpan.FromMilliseconds(249));
        bool completedBeforeTimeout = call.IsCompleted;
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        RateLimitDecision decision = await call.WaitAsync(s_hangGuard);

        completedBeforeTimeout.Should().BeFalse();
        decision.Status.Should().Be(expected);
        harness.EventIds().Should().Contain(601);
    }

    [Fact]
    public async Task AcquireAsync_TimedOutCallCompletesLater_CallerResultsAreNotOverwritten()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        RateLimitEntry[] results = new RateLimitEntry[1];

        Task<RateLimitDecision> call = harness.Resilient.AcquireAsync(ResilienceHarness.One("a", cost: 2), results, StoreFailureMode.LocalFallback).AsTask();
        harness.Time.Advance(harness.Options.Timeout);
        await call.WaitAsync(s_hangGuard);
        RateLimitEntry fallbackEntry = results[0];
        harness.Store.ReleaseHanging();

        fallbackEntry.Count.Should().Be(2);
        results[0].Should().Be(fallbackEntry);
    }

    [Fact]
    public async Task AcquireAsync_TimedOutCallFailsLater_RaisesNoUnobservedTaskException()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        string marker = Guid.NewGuid().ToString("N");
        ConcurrentBag<Exception> unobserved = [];
        EventHandler<UnobservedTaskExceptionEventArgs> handler = (_, e) =>
        {
            if (e.Exception.Flatten().InnerExceptions.Any(x => x.Message == marker))
            {
                unobserved.Add(e.Exception);
            }
        };
        TaskScheduler.UnobservedTaskException += handler;
        try
        {
            Task<RateLimitDecision> call = harness.AcquireAsync("a").AsTask();
            harness.Time.Advance(harness.Options.Timeout);
            await call.WaitAsync(s_hangGuard);
            harness.Store.ReleaseHanging(new InvalidOperationException(marker));
            call = null!;

            for (int i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= handler;
        }

        unobserved.Should().BeEmpty();
    }

    [Fact]
    public async Task AcquireAsync_ManyCallersOnAHangingStoreWithRealTime_AllComplete()
    {
        FakeStoreBehavior behavior = FakeStoreBehavior.Hang;
        Microsoft.Extensions.Time.Testing.FakeTimeProvider unused = new();
        FakeRateLimitStore store = new(unused) { Behavior = behavior };
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions { Timeout = TimeSpan.FromMilliseconds(50) }, TimeProvider.System);

        Task<RateLimitDecision>[] calls = Enumerable.Range(0, 64)
            .Select(i => Task.Run(async () => await resilient.AcquireAsync(ResilienceHarness.One($"k{i % 8}"), default, StoreFailureMode.FailClosed)))
            .ToArray();
        RateLimitDecision[] decisions = await Task.WhenAll(calls).WaitAsync(s_hangGuard);

        decisions.Should().OnlyContain(d => d.Status == RateLimitStatus.StoreUnavailable);
        store.ReleaseHanging(new InvalidOperationException("late"));
    }

    [Fact]
    public async Task PeekAsync_StoreFails_ReturnsStoreUnavailable()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;

        RateLimitDecision decision = await harness.Resilient.PeekAsync(ResilienceHarness.One("a", cost: 0), default);

        decision.Status.Should().Be(RateLimitStatus.StoreUnavailable);
    }

    [Fact]
    public async Task PeekAsync_StoreHealthy_ReadsUsageWithoutTakingPermits()
    {
        using ResilienceHarness harness = new();
        await harness.Resilient.AcquireAsync(ResilienceHarness.One("a", cost: 3), default, StoreFailureMode.FailClosed);
        RateLimitEntry[] results = new RateLimitEntry[1];

        RateLimitDecision decision = await harness.Resilient.PeekAsync(ResilienceHarness.One("a", cost: 0), results);

        decision.Status.Should().Be(RateLimitStatus.Allowed);
        results[0].Count.Should().Be(3);
    }

    [Fact]
    public async Task TryRefundAsync_StoreHealthy_GivesPermitsBack()
    {
        using ResilienceHarness harness = new();
        RateLimitRequest[] requests = ResilienceHarness.One("a", cost: 10);
        RateLimitDecision admitted = await harness.Resilient.AcquireAsync(requests, default, StoreFailureMode.FailClosed);

        bool refunded = await harness.Resilient.TryRefundAsync(requests, admitted);
        RateLimitDecision again = await harness.Resilient.AcquireAsync(requests, default, StoreFailureMode.FailClosed);

        refunded.Should().BeTrue();
        again.Status.Should().Be(RateLimitStatus.Allowed);
    }

    [Theory]
    [InlineData(FakeStoreBehavior.Fail)]
    [InlineData(FakeStoreBehavior.ThrowSynchronously)]
    [InlineData(FakeStoreBehavior.Hang)]
    public async Task TryRefundAsync_StoreFailsOrHangs_ReturnsFalse(FakeStoreBehavior behavior)
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = behavior;

        ValueTask<bool> refund = harness.Resilient.TryRefundAsync(
            ResilienceHarness.One("a"), new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, harness.Time.GetUtcNow(), 42));
        harness.Time.Advance(harness.Options.Timeout);
        bool refunded = await refund.AsTask().WaitAsync(s_hangGuard);

        refunded.Should().BeFalse();
    }

    [Fact]
    public async Task TryRefundAsync_LocalFallbackDecision_RefundsTheLocalStoreWithoutTouchingTheStore()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        int calls = harness.Store.Calls;
        RateLimitRequest[] requests = [new("a", RateLimitRule.PerMinute(2), 2)];
        RateLimitDecision admitted = await harness.Resilient.AcquireAsync(requests, default, StoreFailureMode.LocalFallback);

        bool refunded = await harness.Resilient.TryRefundAsync(requests, admitted);
        RateLimitDecision again = await harness.Resilient.AcquireAsync(requests, default, StoreFailureMode.LocalFallback);

        refunded.Should().BeTrue();
        again.Status.Should().Be(RateLimitStatus.Allowed);
        harness.Store.Calls.Should().Be(calls);
    }

    [Fact]
    public async Task AcquireAsync_StoreFails_LogsTheFailureWithItsEventId()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;

        await harness.AcquireAsync("a");

        harness.Logger.Collector.LatestRecord.Id.Id.Should().Be(600);
        harness.Logger.Collector.LatestRecord.Exception.Should().BeOfType<InvalidOperationException>();
    }
}
