namespace EmailGuard.Tests.Resilience;

public sealed class StoreCircuitBreakerTests
{
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Circuit_FewerFailuresThanTheThreshold_StaysClosed()
    {
        using ResilienceHarness harness = new(o => o.ConsecutiveFailureThreshold = 3);

        await harness.FailAsync(2);

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Fact]
    public async Task Circuit_ThresholdOfConsecutiveFailures_Opens()
    {
        using ResilienceHarness harness = new(o => o.ConsecutiveFailureThreshold = 3);

        await harness.FailAsync(3);

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
        harness.EventIds().Should().ContainSingle(id => id == 602);
    }

    [Fact]
    public async Task Circuit_SuccessBetweenFailures_ResetsTheConsecutiveCount()
    {
        using ResilienceHarness harness = new(o => o.ConsecutiveFailureThreshold = 3);

        await harness.FailAsync(2);
        await harness.AcquireAsync("ok");
        await harness.FailAsync(2);

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Fact]
    public async Task Circuit_AnswersFromTheStoresCacheBetweenFailures_AreNoWordFromItsServer_ThresholdStillOpens()
    {
        // An answer without a round trip (the Redis store's over-limit cache denying a flood) says nothing about the server.
        using ResilienceHarness harness = new(o => o.ConsecutiveFailureThreshold = 3);

        for (int i = 0; i < 3; i++)
        {
            harness.Store.Behavior = FakeStoreBehavior.AnswerFromCache;
            (await harness.AcquireAsync("flood")).Status.Should().Be(RateLimitStatus.Allowed);
            await harness.FailAsync(1);
        }

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
    }

    [Fact]
    public async Task Circuit_ProbeAnsweredFromTheStoresCache_DoesNotClose_TheNextCallProbes()
    {
        using ResilienceHarness harness = new(o => o.ConsecutiveFailureThreshold = 3);
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);

        harness.Store.Behavior = FakeStoreBehavior.AnswerFromCache;
        (await harness.AcquireAsync("flood")).Status.Should().Be(RateLimitStatus.Allowed, "the probe went to the store");
        StoreCircuitState afterLocalAnswer = harness.Resilient.CircuitState;
        int calls = harness.Store.Calls;
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        await harness.AcquireAsync("ok");

        afterLocalAnswer.Should().NotBe(StoreCircuitState.Closed);
        harness.Store.Calls.Should().Be(calls + 1, "the probe was handed to the next call");
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Theory]
    [InlineData(StoreFailureMode.FailOpen, RateLimitStatus.AllowedUnguarded)]
    [InlineData(StoreFailureMode.FailClosed, RateLimitStatus.StoreUnavailable)]
    [InlineData(StoreFailureMode.LocalFallback, RateLimitStatus.Allowed)]
    public async Task Circuit_Open_SkipsTheStoreAndAppliesTheFailureMode(StoreFailureMode mode, RateLimitStatus expected)
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        int calls = harness.Store.Calls;
        harness.Store.Behavior = FakeStoreBehavior.Succeed;

        RateLimitDecision decision = await harness.AcquireAsync("a", mode);
        await harness.Resilient.PeekAsync(ResilienceHarness.One("a", cost: 0), default);

        decision.Status.Should().Be(expected);
        harness.Store.Calls.Should().Be(calls);
    }

    [Fact]
    public async Task Circuit_BreakDurationNotYetOver_StaysOpen()
    {
        using ResilienceHarness harness = new(o => o.BreakDuration = TimeSpan.FromSeconds(5));
        await harness.FailAsync(3);
        int calls = harness.Store.Calls;
        harness.Store.Behavior = FakeStoreBehavior.Succeed;

        harness.Time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(1));
        await harness.AcquireAsync("a");

        harness.Store.Calls.Should().Be(calls);
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
    }

    [Fact]
    public async Task Circuit_BreakDurationOver_LetsOneProbeThroughAndRejectsOthersMeanwhile()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        int calls = harness.Store.Calls;

        Task<RateLimitDecision> probe = harness.AcquireAsync("probe").AsTask();
        StoreCircuitState during = harness.Resilient.CircuitState;
        RateLimitDecision other = await harness.AcquireAsync("other", StoreFailureMode.FailClosed);
        harness.Store.ReleaseHanging();
        await probe.WaitAsync(s_hangGuard);

        during.Should().Be(StoreCircuitState.HalfOpen);
        other.Status.Should().Be(RateLimitStatus.StoreUnavailable);
        harness.Store.Calls.Should().Be(calls + 1);
        harness.EventIds().Should().Contain(603);
    }

    [Fact]
    public async Task Circuit_ProbeSucceeds_Closes()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Succeed;

        RateLimitDecision probe = await harness.AcquireAsync("probe", StoreFailureMode.FailClosed);
        int calls = harness.Store.Calls;
        await harness.AcquireAsync("next");

        probe.Status.Should().Be(RateLimitStatus.Allowed);
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
        harness.Store.Calls.Should().Be(calls + 1);
        harness.EventIds().Should().Contain(604);
    }

    [Fact]
    public async Task Circuit_ProbeFails_OpensAgainForAnotherBreakDuration()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);

        await harness.FailAsync(1);
        int calls = harness.Store.Calls;
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        harness.Time.Advance(harness.Options.BreakDuration - TimeSpan.FromMilliseconds(1));
        await harness.AcquireAsync("still open");
        StoreCircuitState beforeSecondBreakEnds = harness.Resilient.CircuitState;
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));
        await harness.AcquireAsync("second probe");

        beforeSecondBreakEnds.Should().Be(StoreCircuitState.Open);
        harness.Store.Calls.Should().Be(calls + 1);
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
        harness.EventIds().Should().Contain(605);
    }

    [Fact]
    public async Task Circuit_ProbeTimesOut_OpensAgain()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Hang;

        Task<RateLimitDecision> probe = harness.AcquireAsync("probe").AsTask();
        harness.Time.Advance(harness.Options.Timeout);
        await probe.WaitAsync(s_hangGuard);

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
        harness.Store.ReleaseHanging();
    }

    [Fact]
    public async Task Circuit_ProbeCancelledByItsCaller_NextCallProbes()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        using CancellationTokenSource cts = new();

        Task<RateLimitDecision> probe = harness.AcquireAsync("probe", cancellationToken: cts.Token).AsTask();
        await cts.CancelAsync();
        await FluentActions.Awaiting(() => probe.WaitAsync(s_hangGuard)).Should().ThrowAsync<OperationCanceledException>();
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        RateLimitDecision next = await harness.AcquireAsync("next", StoreFailureMode.FailClosed);

        next.Status.Should().Be(RateLimitStatus.Allowed);
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
        harness.Store.ReleaseHanging();
    }

    [Fact]
    public async Task Circuit_FailureRatioReachedWithEnoughThroughput_Opens()
    {
        using ResilienceHarness harness = new(o =>
        {
            o.ConsecutiveFailureThreshold = 1000;
            o.FailureRatio = 0.5;
            o.MinimumThroughput = 10;
        });

        for (int i = 0; i < 5; i++)
        {
            await harness.AcquireAsync("ok");
            StoreCircuitState before = harness.Resilient.CircuitState;
            await harness.FailAsync(1);
            before.Should().Be(StoreCircuitState.Closed);
        }

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
    }

    [Fact]
    public async Task Circuit_FailureRatioReachedBelowMinimumThroughput_StaysClosed()
    {
        using ResilienceHarness harness = new(o =>
        {
            o.ConsecutiveFailureThreshold = 1000;
            o.FailureRatio = 0.5;
            o.MinimumThroughput = 20;
        });

        for (int i = 0; i < 9; i++)
        {
            await harness.AcquireAsync("ok");
            await harness.FailAsync(1);
        }

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Fact]
    public async Task Circuit_FailuresOlderThanTheSamplingDuration_DoNotCount()
    {
        using ResilienceHarness harness = new(o =>
        {
            o.ConsecutiveFailureThreshold = 1000;
            o.FailureRatio = 0.5;
            o.MinimumThroughput = 10;
            o.SamplingDuration = TimeSpan.FromSeconds(10);
        });
        for (int i = 0; i < 8; i++)
        {
            await harness.AcquireAsync("ok");
            await harness.FailAsync(1);
        }

        harness.Time.Advance(TimeSpan.FromSeconds(11));
        for (int i = 0; i < 4; i++)
        {
            await harness.AcquireAsync("ok");
            await harness.FailAsync(1);
        }

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Fact]
    public async Task Circuit_ManyConcurrentFailures_OpensExactlyOnce()
    {
        using ResilienceHarness harness = new(o => o.ConsecutiveFailureThreshold = 5);
        harness.Store.Behavior = FakeStoreBehavior.Fail;

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            for (int j = 0; j < 20; j++)
            {
                await harness.AcquireAsync($"k{i}", StoreFailureMode.LocalFallback);
            }
        }))).WaitAsync(s_hangGuard);

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
        harness.EventIds().Count(id => id == 602).Should().Be(1);
    }

    [Fact]
    public async Task Circuit_ManyConcurrentCallersAfterTheBreak_ExactlyOneProbeReachesTheStore()
    {
        using ResilienceHarness harness = new();
        await harness.FailAsync(3);
        harness.Time.Advance(harness.Options.BreakDuration);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        int calls = harness.Store.Calls;

        Task<RateLimitDecision>[] all = Enumerable.Range(0, 64)
            .Select(i => Task.Run(async () => await harness.AcquireAsync($"k{i}", StoreFailureMode.FailClosed)))
            .ToArray();
        // Until the probe hangs in the store too: on a loaded machine its task may not have started when the other 63
        // are answered, and released before it arrived it would hang past the guard.
        SpinWait.SpinUntil(() => all.Count(t => t.IsCompleted) >= 63 && !harness.Store.Hanging.IsEmpty, s_hangGuard).Should().BeTrue();
        int reached = harness.Store.Calls - calls;
        harness.Store.ReleaseHanging();
        RateLimitDecision[] decisions = await Task.WhenAll(all).WaitAsync(s_hangGuard);

        reached.Should().Be(1);
        decisions.Count(d => d.Status == RateLimitStatus.Allowed).Should().Be(1);
        decisions.Count(d => d.Status == RateLimitStatus.StoreUnavailable).Should().Be(63);
    }
}
