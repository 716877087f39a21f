using EmailGuard.Tests.Guard;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.State;

/// <summary>
/// A hung or dead state store (blocklists, flags) must never hold a check longer than the resilience timeout, and the
/// list, flag and status APIs must fail within it with <see cref="EmailGuardStoreUnavailableException"/>. Time is fake:
/// a check that is still pending before the clock moves past the timeout, and done after, proves the bound.
/// </summary>
public sealed class StateStoreStallTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(250);
    private static readonly OutboundEmail s_mail = new() { To = ["victim@example.com"], TenantId = "acme" };

    public static TheoryData<StoreFailureMode, EmailSendReason> ModeOutcomes => new()
    {
        { StoreFailureMode.FailOpen, EmailSendReason.Allowed },
        { StoreFailureMode.FailClosed, EmailSendReason.StoreUnavailable },
        { StoreFailureMode.LocalFallback, EmailSendReason.Allowed },
    };

    [Theory]
    [MemberData(nameof(ModeOutcomes))]
    public async Task CheckAsync_StateStoreHangsBeforeTheFirstLoad_FollowsTheFailureModeAtTheTimeout(StoreFailureMode mode, EmailSendReason expected)
    {
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.FailureMode = mode);
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Hang;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        Task<EmailSendDecision>[] checks = [.. Enumerable.Range(0, 64).Select(_ => guard.CheckAsync(s_mail).AsTask())];
        bool anyDoneEarly = checks.Any(c => c.IsCompleted);
        time.Advance(s_timeout);
        EmailSendDecision[] decisions = await Task.WhenAll(checks).WaitAsync(TimeSpan.FromSeconds(30));

        anyDoneEarly.Should().BeFalse("the first checks wait for the first load, up to the timeout");
        decisions.Should().OnlyContain(d => d.Reason == expected);
        state.Calls.Should().Be(1, "64 checks share one load");
    }

    [Fact]
    public async Task FirstLoad_StoreSlowerThanTheTimeoutOnce_LogsAWarningWithoutAStackTrace_NotAnError()
    {
        // A cold start: the client is still connecting when the first load reads the version. That is retried at the
        // next check and is no error; the error for a store that stays silent is the state circuit opening (1001).
        FakeLogCollector logs = new();
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.FailureMode = StoreFailureMode.FailClosed, logs: logs);
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Hang;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        Task<EmailSendDecision> first = guard.CheckAsync(s_mail).AsTask();
        time.Advance(s_timeout);
        EmailSendDecision slow = await first.WaitAsync(TimeSpan.FromSeconds(30));
        if (sp.GetRequiredService<GuardStateCache>().Refreshing is { } failing)
        {
            // The check was answered at the timeout; the load it waited for ends (and logs) on its own.
            await failing.WaitAsync(TimeSpan.FromSeconds(30));
        }

        state.Behavior = StateStoreBehavior.Answer;
        state.Release();
        EmailSendDecision next = await guard.CheckAsync(s_mail).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        slow.Reason.Should().Be(EmailSendReason.StoreUnavailable);
        next.Reason.Should().Be(EmailSendReason.Allowed, "the store answered the next load");
        IReadOnlyList<FakeLogRecord> records = logs.GetSnapshot();
        records.Should().NotContain(r => r.Level >= LogLevel.Error, "one slow answer at start is not an error");
        FakeLogRecord warning = records.Should().ContainSingle(r => r.Id.Id == 1007).Subject;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Exception.Should().BeNull("a timeout's stack trace says nothing the message does not");
        warning.Message.Should().Contain("250");
    }

    [Fact]
    public async Task FirstLoad_StoreThrows_LogsErrorWithTheCause()
    {
        FakeLogCollector logs = new();
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.FailureMode = StoreFailureMode.FailClosed, logs: logs);
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Throw;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(s_mail).AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Reason.Should().Be(EmailSendReason.StoreUnavailable);

        FakeLogRecord error = logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 1003).Subject;
        error.Level.Should().Be(LogLevel.Error);
        error.Exception.Should().NotBeNull();
    }

    [Fact]
    public async Task CheckAsync_StateStoreDeadBeforeTheFirstLoad_FailsFastOnceTheStateCircuitIsOpen()
    {
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.FailureMode = StoreFailureMode.FailClosed);
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Throw;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < 5; i++)
        {
            (await guard.CheckAsync(s_mail).AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Reason.Should().Be(EmailSendReason.StoreUnavailable);
        }

        int callsWhenOpen = state.Calls;
        ValueTask<EmailSendDecision> check = guard.CheckAsync(s_mail);

        check.IsCompleted.Should().BeTrue("with the state circuit open a check does not touch the store");
        (await check).Reason.Should().Be(EmailSendReason.StoreUnavailable);
        state.Calls.Should().Be(callsWhenOpen);
        sp.GetRequiredService<GuardStateCache>().Store.CircuitState.Should().Be(StoreCircuitState.Open);
    }

    [Fact]
    public async Task CheckAsync_StateStoreHangsAfterALoad_AnswersAtOnceFromTheLastSnapshot_AndCatchesUpWhenItAnswers()
    {
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.StateRefreshInterval = TimeSpan.FromSeconds(5));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        GuardStateCache cache = sp.GetRequiredService<GuardStateCache>();
        await sp.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com", "complaint");
        state.Behavior = StateStoreBehavior.Hang;
        await state.Inner.UpsertListEntryAsync(
            new EmailGuardListEntry
            {
                Kind = EmailGuardListKind.Blocklist,
                PartyType = EmailGuardPartyType.Tenant,
                Value = "spammer",
                Reason = "abuse",
                CreatedAt = time.GetUtcNow(),
            },
            default);

        time.Advance(TimeSpan.FromMinutes(1));
        ValueTask<EmailSendDecision> check = guard.CheckAsync(s_mail);
        ValueTask<EmailSendDecision> other = guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "spammer" });

        check.IsCompleted.Should().BeTrue("a check never waits on a refresh");
        (await check).Reason.Should().Be(EmailSendReason.Blocklisted, "the last snapshot stays in force");
        (await other).Reason.Should().Be(EmailSendReason.Allowed, "the change made meanwhile is not known yet");
        cache.Age.Should().Be(TimeSpan.FromMinutes(1));

        state.Behavior = StateStoreBehavior.Answer;
        state.Release();
        await cache.StartRefresh().WaitAsync(TimeSpan.FromSeconds(30));
        (await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "spammer" })).Reason.Should().Be(EmailSendReason.Blocklisted);
        cache.Age.Should().Be(TimeSpan.Zero);
    }

    [Theory]
    [InlineData(null, 5)]
    [InlineData(60, 60)]
    public async Task StateLoad_HungAfterTheVersionRead_FailsAtTheStateLoadTimeout(int? configuredSeconds, int expectedSeconds)
    {
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(
            _ => { },
            more: s => s.Configure<StoreResilienceOptions>(o => o.StateLoadTimeout = configuredSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null));
        await using ServiceProvider owned = sp;
        ResilientStateStore store = sp.GetRequiredService<GuardStateCache>().Store;
        state.Behavior = StateStoreBehavior.Hang;

        Task<EmailGuardStateData> load = store.LoadAsync(default).AsTask();
        time.Advance(TimeSpan.FromSeconds(expectedSeconds) - TimeSpan.FromMilliseconds(1));
        bool doneEarly = load.IsCompleted;
        time.Advance(TimeSpan.FromMilliseconds(1));
        Func<Task> act = () => load.WaitAsync(TimeSpan.FromSeconds(30));

        store.LoadTimeout.Should().Be(TimeSpan.FromSeconds(expectedSeconds), "StateLoadTimeout, by default ten times the 250 ms timeout but at least 5 s");
        doneEarly.Should().BeFalse("a full load of a large list gets its own, longer bound");
        await act.Should().ThrowAsync<EmailGuardStoreUnavailableException>();
    }

    [Fact]
    public async Task HealthCheck_StateNotRefreshedForLong_DegradedWithItsAge()
    {
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.StateRefreshInterval = TimeSpan.FromSeconds(5));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(s_mail);
        HealthCheckResult fresh = await CheckHealthAsync(sp);
        state.Behavior = StateStoreBehavior.Throw;

        time.Advance(TimeSpan.FromSeconds(31));
        await guard.CheckAsync(s_mail);
        await sp.GetRequiredService<GuardStateCache>().StartRefresh();
        HealthCheckResult stale = await CheckHealthAsync(sp);

        fresh.Status.Should().Be(HealthStatus.Healthy);
        fresh.Data["stateAgeSeconds"].Should().Be(0.0);
        stale.Status.Should().Be(HealthStatus.Degraded);
        stale.Data["stateAgeSeconds"].Should().Be(31.0);
        stale.Description.Should().Contain("31 s old");
    }

    [Fact]
    public async Task HealthCheck_StateNeverLoaded_Degraded()
    {
        (ServiceProvider sp, ControllableStateStore state, _) = Build(o => { });
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Throw;
        await sp.GetRequiredService<GuardStateCache>().StartRefresh();

        HealthCheckResult result = await CheckHealthAsync(sp);

        result.Status.Should().Be(HealthStatus.Degraded);
        result.Data["stateAgeSeconds"].Should().Be(-1);
    }

    [Fact]
    public async Task HealthCheck_StoreConfigurationWarns_Degraded()
    {
        FakeConfigurationCheck check = new(["Redis at 127.0.0.1:6379 has maxmemory-policy allkeys-lru."]);
        (ServiceProvider sp, _, _) = Build(o => { }, s => s.AddSingleton<IStoreConfigurationCheck>(check));
        await using ServiceProvider owned = sp;
        await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(s_mail);

        HealthCheckResult result = await CheckHealthAsync(sp);

        result.Status.Should().Be(HealthStatus.Degraded);
        result.Description.Should().Contain("allkeys-lru");
        ((string[])result.Data["warnings"]).Should().ContainSingle();
        check.Refreshes.Should().Be(1, "the health check asks the check to look again, in the background");
    }

    [Fact]
    public async Task StateAgeGauge_ReportsSecondsSinceTheStoreLastConfirmedTheSnapshot()
    {
        using TestMeterFactory meters = new();
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => o.StateRefreshInterval = TimeSpan.FromHours(1), s => s.AddSingleton<System.Diagnostics.Metrics.IMeterFactory>(meters));
        await using ServiceProvider owned = sp;
        using MetricCollector<double> age = new(meters, EmailGuardDiagnostics.MeterName, GuardStateCache.StateAgeInstrument);
        await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(s_mail);

        time.Advance(TimeSpan.FromSeconds(42));
        age.RecordObservableInstruments();

        age.LastMeasurement!.Value.Should().Be(42);
    }

    [Fact]
    public async Task ListAndFlagApis_StateStoreHangs_ThrowStoreUnavailableAtTheTimeout()
    {
        // The circuit stays closed here, so that every call meets the hang (the open circuit has a test of its own).
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(
            o => { }, s => s.Configure<StoreResilienceOptions>(o => o.ConsecutiveFailureThreshold = 1000));
        await using ServiceProvider owned = sp;
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();
        state.Behavior = StateStoreBehavior.Hang;

        Func<Task>[] calls =
        [
            () => lists.ListAsync(new EmailGuardListQuery()).AsTask(),
            () => lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "spam.example", "abuse").AsTask(),
            () => lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "spam.example").AsTask(),
            () => lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "spam.example").AsTask(),
            () => lists.CountByReasonAsync(EmailGuardListKind.Blocklist).AsTask(),
            () => flags.FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual).AsTask(),
            () => flags.ClearAsync(EmailGuardPartyType.Tenant, "acme").AsTask(),
            () => flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme").AsTask(),
            () => flags.GetEventsAsync(new EmailGuardFlagEventQuery()).AsTask(),
        ];

        foreach (Func<Task> call in calls)
        {
            Task pending = call();
            bool doneEarly = pending.IsCompleted;
            time.Advance(s_timeout);
            Func<Task> act = () => pending.WaitAsync(TimeSpan.FromSeconds(30));

            doneEarly.Should().BeFalse();
            (await act.Should().ThrowExactlyAsync<EmailGuardStoreUnavailableException>())
                .Which.InnerException.Should().BeOfType<TimeoutException>();
        }
    }

    [Fact]
    public async Task ListAndFlagApis_StateStoreThrows_ThrowStoreUnavailableWithTheCause_ThenFailFastWhileTheCircuitIsOpen()
    {
        (ServiceProvider sp, ControllableStateStore state, _) = Build(o => { });
        await using ServiceProvider owned = sp;
        IEmailGuardLists lists = sp.GetRequiredService<IEmailGuardLists>();
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();
        state.Behavior = StateStoreBehavior.Throw;

        for (int i = 0; i < 5; i++)
        {
            Func<Task> failing = () => lists.ListAsync(new EmailGuardListQuery()).AsTask();
            (await failing.Should().ThrowExactlyAsync<EmailGuardStoreUnavailableException>())
                .Which.InnerException.Should().BeOfType<InvalidOperationException>();
        }

        int calls = state.Calls;
        Task open = flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "u1").AsTask();
        Func<Task> act = () => open;

        open.IsCompleted.Should().BeTrue("an open circuit answers at once");
        (await act.Should().ThrowExactlyAsync<EmailGuardStoreUnavailableException>()).Which.Message.Should().Contain("circuit is open");
        state.Calls.Should().Be(calls);
    }

    [Fact]
    public async Task ListApis_BadInputWhileTheStoreIsDown_StillArgumentException()
    {
        (ServiceProvider sp, ControllableStateStore state, _) = Build(o => { });
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Throw;

        Func<Task> act = () => sp.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "not an address", "abuse").AsTask();

        await act.Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task GetStatusAsync_StateNeverLoaded_ThrowsStoreUnavailableAtTheTimeout()
    {
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(o => { });
        await using ServiceProvider owned = sp;
        state.Behavior = StateStoreBehavior.Hang;

        Task<EmailGuardStatus> status = sp.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" }).AsTask();
        bool doneEarly = status.IsCompleted;
        time.Advance(s_timeout);
        Func<Task> act = () => status.WaitAsync(TimeSpan.FromSeconds(30));

        doneEarly.Should().BeFalse();
        await act.Should().ThrowExactlyAsync<EmailGuardStoreUnavailableException>();
    }

    [Fact]
    public async Task FlagAsync_StoreSlowToRead_TheSuspensionLandsAtItsFirstStoreCall_AndReplacedComesFromTheWrite()
    {
        // Arrange: an alert is subscribed, so the flag API wants Replaced; the first suspension is active, then every
        // read hangs (a version read, a catch-up) while writes answer.
        List<EmailGuardFlagArguments> suspended = [];
        (ServiceProvider sp, ControllableStateStore state, FakeTimeProvider time) = Build(
            o => o.Events.OnTenantSuspended = args =>
            {
                suspended.Add(args);
                return ValueTask.CompletedTask;
            },
            s => s.Configure<StoreResilienceOptions>(o => o.ConsecutiveFailureThreshold = 1000));
        await using ServiceProvider owned = sp;
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();
        EmailGuardFlag first = await flags.FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        time.Advance(TimeSpan.FromMinutes(1));
        state.Behavior = StateStoreBehavior.HangReads;

        // Act
        Task<EmailGuardFlag> pending = flags.FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(2)).AsTask();
        EmailGuardStateData stored = await state.Inner.LoadAsync(CancellationToken.None);

        // Assert: stored before the clock moved at all; only the reload after the write waits for its timeout.
        stored.Flags.Should().ContainSingle().Which.ExpiresAt.Should().Be(first.CreatedAt + TimeSpan.FromMinutes(1) + TimeSpan.FromHours(2),
            "the suspension is written first, not after a read of the flags that waits for a slow store");
        time.Advance(s_timeout);
        await pending.WaitAsync(TimeSpan.FromSeconds(30));
        suspended.Select(a => a.Replaced?.CreatedAt).Should().Equal([null, first.CreatedAt], "the write said which active flag it replaced");
    }

    [Fact]
    public async Task GetStatusAsync_StateStoreHangsAfterALoad_AnswersFromTheSnapshot()
    {
        (ServiceProvider sp, ControllableStateStore state, _) = Build(o => { });
        await using ServiceProvider owned = sp;
        await sp.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual);
        state.Behavior = StateStoreBehavior.Hang;

        ValueTask<EmailGuardStatus> status = sp.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });

        status.IsCompleted.Should().BeTrue();
        (await status).Flags.Should().ContainSingle().Which.PartyId.Should().Be("acme");
    }

    private static (ServiceProvider Services, ControllableStateStore State, FakeTimeProvider Time) Build(
        Action<SendGuardOptions> configure, Action<IServiceCollection>? more = null, FakeLogCollector? logs = null)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        ControllableStateStore state = new(time);
        ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.Recipient.Add(RateLimitRule.PerHour(100));
                configure(o);
            },
            time: time,
            logs: logs,
            more: s =>
            {
                s.AddSingleton<IEmailGuardStateStore>(state);
                s.Configure<StoreResilienceOptions>(o => o.Timeout = s_timeout);
                s.AddLogging();
                s.AddHealthChecks().AddCheck<EmailGuardStoreHealthCheck>("emailguard-store");
                more?.Invoke(s);
            });
        return (sp, state, time);
    }

    private static async Task<HealthCheckResult> CheckHealthAsync(ServiceProvider sp)
    {
        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        HealthReportEntry entry = report.Entries["emailguard-store"];
        return new HealthCheckResult(entry.Status, entry.Description, entry.Exception, entry.Data);
    }

    private sealed class FakeConfigurationCheck(string[] warnings) : IStoreConfigurationCheck
    {
        public int Refreshes { get; private set; }

        public IReadOnlyList<string> Warnings => warnings;

        public void Refresh() => Refreshes++;
    }
}
