using EmailGuard.Tests.Guard;
using EmailGuard.Tests.State;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// One check, one store time budget: when every store a check waits on hangs (the state store before its first load,
/// the fair share's registration and view, the counters, the fan-out step's key-value store), the check is answered by
/// its failure mode once the fake clock has moved <see cref="StoreResilienceOptions.Timeout"/>, not one timeout per step.
/// Time is fake: pending just before the timeout and done at it proves the bound. The app's tenant limit provider is not
/// a store: it keeps a timeout of its own, and a slow one leaves the stores their time.
/// </summary>
public sealed class CheckStoreBudgetTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(250);
    private static readonly OutboundEmail s_mail = new() { To = ["a@example.com", "b@example.com"], TenantId = "acme", UserId = "u-1" };

    public static TheoryData<StoreFailureMode, EmailSendReason> ModeOutcomes => new()
    {
        { StoreFailureMode.FailOpen, EmailSendReason.AllowedUnguarded },
        { StoreFailureMode.FailClosed, EmailSendReason.StoreUnavailable },
        { StoreFailureMode.LocalFallback, EmailSendReason.Allowed },
    };

    [Theory]
    [MemberData(nameof(ModeOutcomes))]
    public async Task CheckAsync_EveryStoreHangs_FollowsTheFailureModeWithinOneTimeout(StoreFailureMode mode, EmailSendReason expected)
    {
        // Arrange: every store hangs (the app's tenant limit provider is no store, and keeps a timeout of its own).
        await using Harness harness = await Harness.StartAsync(mode, tenantProvider: false);

        // Act
        Task<EmailSendDecision> check = harness.Guard.CheckAsync(s_mail).AsTask();
        harness.Time.Advance(s_timeout - TimeSpan.FromTicks(1));
        bool doneEarly = check.IsCompleted;
        harness.Time.Advance(TimeSpan.FromTicks(1));
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        doneEarly.Should().BeFalse("the first wait gets the whole timeout");
        decision.Reason.Should().Be(expected);
        harness.Store.Calls.Should().BeGreaterThan(0, "the counters were asked before the budget ran out");
        harness.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2982 || r.Id.Id == 601, "a skipped or timed-out store call is logged");
    }

    [Fact]
    public async Task ReserveAsync_EveryStoreHangs_DecidesLocallyWithinOneTimeout()
    {
        // Arrange
        await using Harness harness = await Harness.StartAsync(StoreFailureMode.LocalFallback, tenantProvider: false);

        // Act
        Task<EmailSendDecision> reservation = harness.Guard.ReserveAsync(s_mail).AsTask();
        harness.Time.Advance(s_timeout - TimeSpan.FromTicks(1));
        bool doneEarly = reservation.IsCompleted;
        harness.Time.Advance(TimeSpan.FromTicks(1));
        EmailSendDecision decision = await reservation.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        doneEarly.Should().BeFalse();
        decision.Reason.Should().Be(EmailSendReason.Allowed, "the local fallback reserves now, as for any reservation during an outage");
    }

    [Fact]
    public async Task CheckAsync_BudgetSpentBeforeTheCounters_DoesNotCallThemAndDoesNotCountTowardsTheBreaker()
    {
        // Arrange: the state store hangs before its first load and spends the whole budget.
        await using Harness harness = await Harness.StartAsync(StoreFailureMode.LocalFallback, fairShare: false, tenantProvider: false, fanOut: false);
        harness.Store.Behavior = FakeStoreBehavior.Succeed;
        ResilientRateLimitStore resilient = harness.Services.GetRequiredService<ResilientRateLimitStore>();

        // Act
        Task<EmailSendDecision> check = harness.Guard.CheckAsync(s_mail).AsTask();
        harness.Time.Advance(s_timeout);
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        decision.IsAllowed.Should().BeTrue("the local fallback decides, as after a timeout of the counters");
        harness.Store.Calls.Should().Be(0, "a call the budget has no time for is not made");
        resilient.Breaker.ConsecutiveFailures.Should().Be(0, "a store never tried has not failed");
        harness.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2982);
    }

    [Fact]
    public async Task CheckAsync_TenantLimitProviderSlowerThanTheTimeout_TheCountersAreStillAsked()
    {
        // Arrange: lists and flags loaded, the rate-limit store answers; only the app's tenant limit provider hangs.
        await using Harness harness = await Harness.StartAsync(StoreFailureMode.FailClosed, fairShare: false, tenantProvider: true, fanOut: false);
        harness.Store.Behavior = FakeStoreBehavior.Succeed;

        // Act
        Task<EmailSendDecision> check = harness.Guard.CheckAsync(s_mail).AsTask();
        harness.Time.Advance(s_timeout);
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: the default tenant rules apply, as the provider's timeout says; the store is not skipped for it.
        decision.Reason.Should().Be(EmailSendReason.Allowed, "a slow provider is no store failure: the counters decide, with the default tenant rules");
        harness.Store.Calls.Should().BeGreaterThan(0);
        harness.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 1005).And.NotContain(r => r.Id.Id == 2982);
    }

    [Fact]
    public async Task CheckAsync_TenantLimitProviderHangsWithFairShareOn_WaitedForOnceNotForTheWeightAgain()
    {
        // Arrange: the fair share looks the tenant's weight up from the same provider after the check's rules.
        await using Harness harness = await Harness.StartAsync(StoreFailureMode.FailClosed, fairShare: true, tenantProvider: true, fanOut: false);
        harness.Store.Behavior = FakeStoreBehavior.Succeed;

        // Act
        Task<EmailSendDecision> check = harness.Guard.CheckAsync(s_mail).AsTask();
        harness.Time.Advance(s_timeout);
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        decision.Reason.Should().Be(EmailSendReason.Allowed);
        harness.Logs.GetSnapshot().Count(r => r.Id.Id == 1005).Should().Be(1, "the check gave up on the lookup once");
    }

    [Fact]
    public async Task AcquireAsync_ProbeWritesBackIntoAHungStore_AnsweredWithinOneTimeout_AndTheCircuitOpensAgain()
    {
        // Arrange: an outage admits two counters locally (pending write-backs) and opens the circuit; then the store hangs.
        using ResilienceHarness harness = new(o => o.Timeout = s_timeout);
        RateLimitRequest[] both = [.. ResilienceHarness.One("victim"), .. ResilienceHarness.One("other")];
        harness.Store.Behavior = FakeStoreBehavior.Fail;
        for (int i = 0; i < harness.Options.ConsecutiveFailureThreshold; i++)
        {
            (await harness.Resilient.AcquireAsync(both, Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback)).AdmittedLocally.Should().BeTrue();
        }

        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open);
        harness.Store.Behavior = FakeStoreBehavior.Hang;
        harness.Time.Advance(harness.Options.BreakDuration);
        StoreTimeBudget budget = new(s_timeout, harness.Time);

        // Act: the probe writes the local admits back first, one counter after the other, then acquires; all hang.
        Task<RateLimitDecision> probe = harness.Resilient
            .AcquireAsync(both, Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback, budget).AsTask();
        harness.Time.Advance(s_timeout - TimeSpan.FromTicks(1));
        bool doneEarly = probe.IsCompleted;
        harness.Time.Advance(TimeSpan.FromTicks(1));
        RateLimitDecision decision = await probe.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        doneEarly.Should().BeFalse();
        decision.AdmittedLocally.Should().BeTrue("the local fallback answers, as after a timeout of the probe");
        harness.Resilient.CircuitState.Should().Be(StoreCircuitState.Open, "a probe whose write-back spent the budget tried the store and failed");
        harness.EventIds().Should().Contain(601);
    }

    [Fact]
    public async Task CheckAsync_InspectorSlowerThanTheTimeout_TheFanOutStepAfterItStillGetsItsStoreTime()
    {
        // Arrange: stores that answer (asynchronously), an inspector that answers after more than the store timeout.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        FakeRateLimitStore store = new(time) { Behavior = FakeStoreBehavior.Succeed };
        GatedInspector inspector = new();
        FakeLogCollector logs = new();
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<ILoggerFactory>(new LoggerFactory([new FakeLoggerProvider(logs)]));
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddSingleton<IEmailContentInspector>(inspector);
        services.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
        services.AddEmailGuard()
            .AddRateLimitStore(_ => store)
            .AddKeyValueStore(_ => new YieldingKeyValueStore())
            .AddSendGuard(o =>
            {
                o.Recipient.Add(RateLimitRule.PerHour(10));
                o.FanOut.NewRecipients = 1;
            });
        await using ServiceProvider sp = services.BuildServiceProvider();
        OutboundEmail mail = new() { To = ["a@example.com"], UserId = "u-1", Content = new EmailContent { Subject = "Hello", TextBody = "Hello there" } };

        // Act
        Task<EmailSendDecision> check = sp.GetRequiredService<IEmailSendGuard>().CheckAsync(mail).AsTask();
        await inspector.Called.WaitAsync(TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(1));
        inspector.Answer(EmailContentVerdict.Allow);
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));
        IReadOnlyList<EmailGuardFlag> flags = await sp.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, "u-1");

        // Assert
        decision.IsAllowed.Should().BeTrue();
        logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2209, "the inspector's own time is not store time");
        flags.Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut, "the fan-out step counted the new recipient and flagged");
    }

    /// <summary>A guard whose stores all hang, with the budget's steps on: tenant limits, fair share, fan-out.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        private Harness(ServiceProvider services, FakeTimeProvider time, FakeRateLimitStore store, FakeLogCollector logs)
        {
            Services = services;
            Time = time;
            Store = store;
            Logs = logs;
        }

        public ServiceProvider Services { get; }

        public FakeTimeProvider Time { get; }

        public FakeRateLimitStore Store { get; }

        public FakeLogCollector Logs { get; }

        public IEmailSendGuard Guard => Services.GetRequiredService<IEmailSendGuard>();

        public static async Task<Harness> StartAsync(StoreFailureMode mode, bool fairShare = true, bool tenantProvider = true, bool fanOut = true)
        {
            FakeTimeProvider time = new(SendGuardTestServices.Start);
            FakeRateLimitStore store = new(time) { Behavior = FakeStoreBehavior.Hang };
            ControllableStateStore state = new(time);
            FakeLogCollector logs = new();
            ServiceCollection services = new();
            services.AddSingleton<TimeProvider>(time);
            services.AddSingleton<ILoggerFactory>(new LoggerFactory([new FakeLoggerProvider(logs)]));
            services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
            services.AddSingleton<IEmailGuardStateStore>(state);
            services.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
            if (tenantProvider)
            {
                services.AddSingleton<ITenantLimitProvider>(new HangingTenantLimitProvider());
            }

            IEmailGuardBuilder builder = services.AddEmailGuard().AddRateLimitStore(_ => store);
            if (fanOut)
            {
                builder.AddKeyValueStore(_ => new HangingKeyValueStore());
            }

            builder.AddSendGuard(o =>
            {
                o.FailureMode = mode;
                o.StateRefreshInterval = TimeSpan.FromSeconds(5);
                o.Global.Add(RateLimitRule.PerHour(10_000));
                o.Tenant.Add(RateLimitRule.PerHour(100));
                o.Recipient.Add(RateLimitRule.PerHour(10));
                o.FairShare.Enabled = fairShare;
                o.FanOut.NewRecipients = fanOut ? 1 : 0;
            });
            ServiceProvider sp = services.BuildServiceProvider();
            if (mode == StoreFailureMode.FailClosed)
            {
                // Fail-closed denies at once without lists and flags; with them loaded, the steps after the state wait.
                await sp.GetRequiredService<GuardStateCache>().StartRefresh();
            }

            state.Behavior = StateStoreBehavior.Hang;
            return new Harness(sp, time, store, logs);
        }

        public ValueTask DisposeAsync()
        {
            Store.ReleaseHanging(new InvalidOperationException("released"));
            return Services.DisposeAsync();
        }
    }

    private sealed class GatedInspector : IEmailContentInspector
    {
        private readonly TaskCompletionSource _called = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<EmailContentVerdict> _answer = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Called => _called.Task;

        public void Answer(EmailContentVerdict verdict) => _answer.SetResult(verdict);

        public ValueTask<EmailContentVerdict> InspectAsync(EmailContentInspectionArguments arguments, CancellationToken cancellationToken)
        {
            _called.TrySetResult();
            return new(_answer.Task);
        }
    }

    /// <summary>Answers as a network store would: on another turn of the thread pool, not at once.</summary>
    private sealed class YieldingKeyValueStore : IEmailGuardKeyValueStore
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _values = new(StringComparer.Ordinal);

        public async ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            _values[key] = value;
        }

        public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return _values.TryGetValue(key, out string? value) ? value : null;
        }

        public async ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return _values.TryAdd(key, value) ? null : _values[key];
        }

        public async ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return _values.TryRemove(new KeyValuePair<string, string>(key, expectedValue));
        }
    }

    private sealed class HangingTenantLimitProvider : ITenantLimitProvider
    {
        private readonly TaskCompletionSource<TenantLimits?> _never = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken) => new(_never.Task);
    }

    private sealed class HangingKeyValueStore : IEmailGuardKeyValueStore
    {
        private readonly TaskCompletionSource<string?> _never = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<bool> _neverRemoved = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => new(_never.Task);

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default) => new(_never.Task);

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => new(_never.Task);

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default) => new(_neverRemoved.Task);
    }
}
