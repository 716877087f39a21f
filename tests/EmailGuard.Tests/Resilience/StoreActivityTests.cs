using System.Collections.Concurrent;
using System.Diagnostics;

namespace EmailGuard.Tests.Resilience;

public sealed class StoreActivityTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;
    private readonly ActivitySource _testSource = new("EmailGuard.Tests." + Guid.NewGuid().ToString("N"));

    public StoreActivityTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == EmailGuardDiagnostics.ActivitySourceName || s == _testSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [Fact]
    public async Task AcquireAsync_StoreSucceeds_RecordsAClientActivityUnderTheCallersActivity()
    {
        using ResilienceHarness harness = new();
        using Activity parent = _testSource.StartActivity("request")!;

        await harness.AcquireAsync("a");

        Activity store = Children(parent).Should().ContainSingle().Subject;
        store.OperationName.Should().Be("emailguard.store.acquire");
        store.Kind.Should().Be(ActivityKind.Client);
        store.Status.Should().Be(ActivityStatusCode.Unset);
    }

    [Fact]
    public async Task AcquireAsync_StoreFails_MarksTheActivityAsAnError()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        using Activity parent = _testSource.StartActivity("request")!;

        await harness.AcquireAsync("a");

        Children(parent).Should().ContainSingle().Which.Status.Should().Be(ActivityStatusCode.Error);
    }

    [Fact]
    public async Task AcquireAsync_Completed_LeavesTheCallersCurrentActivityInPlace()
    {
        using ResilienceHarness harness = new();
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        using Activity parent = _testSource.StartActivity("request")!;

        ValueTask<RateLimitDecision> call = harness.AcquireAsync("a");
        Activity? currentWhilePending = Activity.Current;
        harness.Time.Advance(harness.Options.Timeout);
        await call;

        currentWhilePending.Should().BeSameAs(parent);
        Activity.Current.Should().BeSameAs(parent);
        harness.Store.ReleaseHanging();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _testSource.Dispose();
    }

    private List<Activity> Children(Activity parent) => _stopped.Where(a => a.Parent == parent).ToList();
}
