namespace EmailGuard.Tests.Resilience;

/// <summary>
/// A store that says it is busy (its data is moving) is not a failing store, and never a reason to admit; a caller
/// that cancels is never charged, even when the store decided just as the caller left.
/// </summary>
public sealed class ResilientRateLimitStoreBusyAndCancellationTests
{
    [Theory]
    [InlineData(StoreFailureMode.FailOpen)]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task AcquireAsync_StoreBusy_DeniedAsUnavailableInEveryMode_AndTheCircuitStaysClosed(StoreFailureMode mode)
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        harness.Store.Exception = () => new RateLimitStoreBusyException();

        RateLimitDecision[] decisions = new RateLimitDecision[20];
        for (int i = 0; i < decisions.Length; i++)
        {
            decisions[i] = await harness.AcquireAsync("moving", mode);
        }

        decisions.Should().OnlyContain(d => d.Status == RateLimitStatus.StoreUnavailable && d.RetryAfter >= TimeSpan.FromSeconds(1));
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed, "a busy store answered; it did not fail");
        harness.Store.Calls.Should().Be(20, "every call still went to the store");
        harness.Logger.Collector.GetSnapshot().Should().Contain(r => r.Id.Id == 1304);
        RateLimitEntry[] local = new RateLimitEntry[1];
        await harness.Resilient.LocalStore.PeekAsync(ResilienceHarness.One("moving", cost: 0), local);
        local[0].Count.Should().Be(0, "nothing is admitted against a local share while the shared counter is in transit");
    }

    [Fact]
    public async Task AcquireAsync_StoreAdmitsJustAfterTheCallerCancelled_TheAdmissionIsGivenBack()
    {
        using ResilienceHarness harness = new();

        // The admission the hung call will report, made in the inner store so that it carries a refundable identity.
        RateLimitDecision admitted = await harness.Store.Inner.AcquireAsync(ResilienceHarness.One("late"), default);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        using CancellationTokenSource cts = new();
        Task<RateLimitDecision> call = harness.AcquireAsync("late", cancellationToken: cts.Token).AsTask();

        await cts.CancelAsync();
        Func<Task> act = () => call;
        await act.Should().ThrowAsync<OperationCanceledException>();
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        harness.Store.ReleaseHanging(admitted: admitted);
        await harness.Resilient.CancelledCallsSettledAsync();

        RateLimitEntry[] entry = new RateLimitEntry[1];
        await harness.Store.Inner.PeekAsync(ResilienceHarness.One("late", cost: 0), entry);
        entry[0].Count.Should().Be(0, "the store admitted an acquire whose caller had already been told it was cancelled; it was given back");
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
    }

    [Theory]
    [InlineData(StoreFailureMode.FailClosed, 0)]
    [InlineData(StoreFailureMode.LocalFallback, 0)]
    [InlineData(StoreFailureMode.FailOpen, 1)]
    public async Task AcquireAsync_StoreAdmitsAfterTheTimeout_GivenBackUnlessTheCallerSentUnguarded(StoreFailureMode mode, long expected)
    {
        using ResilienceHarness harness = new();
        RateLimitDecision admitted = await harness.Store.Inner.AcquireAsync(ResilienceHarness.One("slow"), default);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        Task<RateLimitDecision> call = harness.AcquireAsync("slow", mode).AsTask();

        harness.Time.Advance(harness.Options.Timeout);
        RateLimitDecision answered = await call.WaitAsync(TimeSpan.FromSeconds(30));
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        harness.Store.ReleaseHanging(admitted: admitted);
        await harness.Resilient.CancelledCallsSettledAsync();

        RateLimitEntry[] entry = new RateLimitEntry[1];
        await harness.Store.Inner.PeekAsync(ResilienceHarness.One("slow", cost: 0), entry);
        answered.Status.Should().Be(mode switch
        {
            StoreFailureMode.FailClosed => RateLimitStatus.StoreUnavailable,
            StoreFailureMode.FailOpen => RateLimitStatus.AllowedUnguarded,
            _ => RateLimitStatus.Allowed,
        });
        entry[0].Count.Should().Be(expected, mode == StoreFailureMode.FailOpen
            ? "under fail-open the caller sent unguarded, and the store's late admission counts that send"
            : "the caller was answered by the failure mode, not by this admission, so the late admission is given back");
    }

    [Theory]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task AcquireAsync_StoreAdmitsAsTheWaitTimesOut_TheAdmissionIsStillGivenBack(StoreFailureMode mode)
    {
        // Arrange: a hung call, answered (admitted) after the wait for it timed out but before the wrapper looked at it.
        // The wrapper took a call complete by then for one that had failed by itself: it left the admission standing,
        // and a check answered by the local fallback was counted twice in Redis once its local admit was written back.
        using ResilienceHarness harness = new();
        RateLimitDecision admitted = await harness.Store.Inner.AcquireAsync(ResilienceHarness.One("racing"), default);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        TimeoutRace race = new(() =>
        {
            harness.Store.Behavior = FakeStoreBehavior.Succeed;
            harness.Store.ReleaseHanging(admitted: admitted);
        });
        Task<RateLimitDecision> call = race.Start(() => harness.AcquireAsync("racing", mode).AsTask());

        // Act
        race.Arm();
        harness.Time.Advance(harness.Options.Timeout);
        RateLimitDecision answered = await call.WaitAsync(TimeSpan.FromSeconds(30));
        await harness.Resilient.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        race.Answered.Should().BeTrue("the store answered in the gap");
        answered.Status.Should().Be(mode == StoreFailureMode.FailClosed ? RateLimitStatus.StoreUnavailable : RateLimitStatus.Allowed, "the wait timed out: the failure mode answered");
        RateLimitEntry[] entry = new RateLimitEntry[1];
        await harness.Store.Inner.PeekAsync(ResilienceHarness.One("racing", cost: 0), entry);
        entry[0].Count.Should().Be(0, "the caller was answered by the failure mode, so the admission that came as the wait timed out is given back");
    }

    [Fact]
    public async Task AcquireAsync_StoreFailsAfterTheCallerCancelled_NothingIsGivenBack()
    {
        using ResilienceHarness harness = new();
        await harness.Store.Inner.AcquireAsync(ResilienceHarness.One("failed"), default);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        using CancellationTokenSource cts = new();
        Task<RateLimitDecision> call = harness.AcquireAsync("failed", cancellationToken: cts.Token).AsTask();

        await cts.CancelAsync();
        Func<Task> act = () => call;
        await act.Should().ThrowAsync<OperationCanceledException>();
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        harness.Store.ReleaseHanging(new InvalidOperationException("lost"));
        await harness.Resilient.CancelledCallsSettledAsync();

        RateLimitEntry[] entry = new RateLimitEntry[1];
        await harness.Store.Inner.PeekAsync(ResilienceHarness.One("failed", cost: 0), entry);
        entry[0].Count.Should().Be(1, "a call that failed took nothing the wrapper knows of, so nothing is given back");
    }
}
