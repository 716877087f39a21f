using System.Diagnostics.Metrics;
using EmailGuard.Tests.Guard;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Content;

public sealed class ContentInspectorTests : IDisposable
{
    private static readonly EmailContent Phishing = new() { Subject = "Verify your account", TextBody = "Your mailbox is full, log in at http://mail-verify.example to keep it." };
    private readonly FakeTimeProvider _time = new(SendGuardTestServices.Start);
    private readonly FakeLogCollector _logs = new();
    private readonly TestMeterFactory _meterFactory = new();
    private readonly MetricCollector<long> _verdicts;
    private ServiceProvider? _services;

    public ContentInspectorTests() => _verdicts = new(_meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.ContentVerdictsInstrument);

    private static OutboundEmail Mail(EmailContent? content = null, string? user = "mallory")
        => new() { To = ["victim@example.com"], TenantId = "acme", UserId = user, Content = content ?? Phishing };

    private IEmailSendGuard Guard(FakeContentInspector inspector, Action<SendGuardOptions>? configure = null)
    {
        _services = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(10));
                configure?.Invoke(o);
            },
            more: s =>
            {
                s.AddSingleton<IMeterFactory>(_meterFactory);
                s.AddSingleton<IEmailContentInspector>(inspector);
            },
            time: _time,
            logs: _logs);
        return _services.GetRequiredService<IEmailSendGuard>();
    }

    private async Task<long> TenantCountAsync()
    {
        EmailGuardStatus status = await _services!.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });
        return status.Usage.Single(u => u.Dimension == EmailGuardDimension.Tenant).Count;
    }

    private (string Verdict, string Outcome)[] Verdicts()
        => [.. _verdicts.GetMeasurementSnapshot().Select(m => ((string)m.Tags["emailguard.content.verdict"]!, (string)m.Tags["emailguard.outcome"]!))];

    public void Dispose()
    {
        _verdicts.Dispose();
        _services?.Dispose();
        _meterFactory.Dispose();
    }

    [Fact]
    public async Task Deny_StopsTheMessageAndGivesItsPermitsBack()
    {
        FakeContentInspector inspector = FakeContentInspector.Answering(EmailContentVerdict.Deny("phishing"));
        IEmailSendGuard guard = Guard(inspector);

        EmailSendDecision decision = await guard.CheckAsync(Mail());

        decision.IsAllowed.Should().BeFalse();
        decision.Reason.Should().Be(EmailSendReason.ContentRejected);
        decision.Dimension.Should().Be(EmailGuardDimension.Content);
        decision.Detail.Should().Contain("phishing");
        (await TenantCountAsync()).Should().Be(0);
        inspector.Calls.Should().ContainSingle().Which.Content.Should().BeSameAs(Phishing);
        Verdicts().Should().Equal(("deny", "inspected"));
        _logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2200 && r.Message.Contains("phishing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deny_GivesThePermitsBackWithoutRaisingOnRefunded_TheCheckWasReportedAsADenial()
    {
        List<EmailSendDecision> checkedDecisions = [];
        int refunded = 0;
        IEmailSendGuard guard = Guard(FakeContentInspector.Answering(EmailContentVerdict.Deny("phishing")), o =>
        {
            o.Events.OnChecked = e =>
            {
                checkedDecisions.Add(e.Decision);
                return ValueTask.CompletedTask;
            };
            o.Events.OnRefunded = _ =>
            {
                Interlocked.Increment(ref refunded);
                return ValueTask.CompletedTask;
            };
        });

        await guard.CheckAsync(Mail());

        checkedDecisions.Should().ContainSingle().Which.Reason.Should().Be(EmailSendReason.ContentRejected);
        refunded.Should().Be(0, "a dashboard counted this check as a denial: taking its permits off again would count them twice");
        (await TenantCountAsync()).Should().Be(0);
    }

    [Fact]
    public async Task Flag_SendsAndFlagsTheUserWithTheInspectorsReason()
    {
        IEmailSendGuard guard = Guard(FakeContentInspector.Answering(EmailContentVerdict.Flag("suspected_phishing")));

        EmailSendDecision decision = await guard.CheckAsync(Mail());

        decision.IsAllowed.Should().BeTrue();
        IEmailGuardFlags flags = _services!.GetRequiredService<IEmailGuardFlags>();
        EmailGuardFlag flag = (await flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().ContainSingle().Subject;
        flag.Reason.Should().Be("suspected_phishing");
        flag.LimitFactor.Should().Be(0.1, "the reason has no policy of its own, so the default flag policy applies");
        Verdicts().Should().Equal(("flag", "inspected"));
        _logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2201);
    }

    [Fact]
    public async Task Flag_WithoutAUser_FlagsTheTenant_AndTheReasonsPolicyApplies()
    {
        IEmailSendGuard guard = Guard(
            FakeContentInspector.Answering(EmailContentVerdict.Flag("phishing")),
            o => o.FlagPolicies["phishing"] = new FlagPolicy { Suspend = true, Duration = TimeSpan.FromHours(1) });

        (await guard.CheckAsync(Mail(user: null))).IsAllowed.Should().BeTrue();
        EmailSendDecision next = await guard.CheckAsync(Mail(new EmailContent { Subject = "Hello", TextBody = "Lunch?" }, user: null));

        next.Reason.Should().Be(EmailSendReason.Suspended);
        next.Dimension.Should().Be(EmailGuardDimension.Tenant);
    }

    [Theory]
    [InlineData(ContentInspectionFailureMode.Allow)]
    [InlineData(ContentInspectionFailureMode.Deny)]
    public async Task Timeout_InspectorThatNeverAnswers_IsCutOffAtTheBudgetAndTheFailureModeDecides(ContentInspectionFailureMode mode)
    {
        FakeContentInspector inspector = FakeContentInspector.Hanging();
        IEmailSendGuard guard = Guard(inspector, o =>
        {
            o.ContentInspection.Timeout = TimeSpan.FromMilliseconds(500);
            o.ContentInspection.FailureMode = mode;
        });

        ValueTask<EmailSendDecision> pending = guard.CheckAsync(Mail());
        await Task.Delay(50);
        pending.IsCompleted.Should().BeFalse("the budget is not spent yet");
        _time.Advance(TimeSpan.FromMilliseconds(500));
        EmailSendDecision decision = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        inspector.LastToken.IsCancellationRequested.Should().BeTrue("the inspector is told to stop at the budget");
        decision.IsAllowed.Should().Be(mode == ContentInspectionFailureMode.Allow);
        if (mode == ContentInspectionFailureMode.Deny)
        {
            decision.Reason.Should().Be(EmailSendReason.ContentRejected);
            (await TenantCountAsync()).Should().Be(0);
        }
        else
        {
            (await TenantCountAsync()).Should().Be(1);
        }

        Verdicts().Should().Equal((mode == ContentInspectionFailureMode.Allow ? "allow" : "deny", "timeout"));
        _logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2202);
    }

    [Fact]
    public async Task Timeout_InspectorThatHonoursItsToken_IsATimeoutToo()
    {
        IEmailSendGuard guard = Guard(FakeContentInspector.HonouringCancellation(), o => o.ContentInspection.FailureMode = ContentInspectionFailureMode.Deny);

        ValueTask<EmailSendDecision> pending = guard.CheckAsync(Mail());
        _time.Advance(TimeSpan.FromSeconds(2));
        EmailSendDecision decision = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        decision.Reason.Should().Be(EmailSendReason.ContentRejected);
        Verdicts().Should().Equal(("deny", "timeout"));
    }

    [Theory]
    [InlineData(ContentInspectionFailureMode.Allow)]
    [InlineData(ContentInspectionFailureMode.Deny)]
    public async Task Failure_InspectorThrows_TheFailureModeDecidesAndNoExceptionEscapes(ContentInspectionFailureMode mode)
    {
        FakeContentInspector inspector = new((_, _) => throw new HttpRequestException("classifier down"));
        IEmailSendGuard guard = Guard(inspector, o => o.ContentInspection.FailureMode = mode);

        EmailSendDecision decision = await guard.CheckAsync(Mail());

        decision.IsAllowed.Should().Be(mode == ContentInspectionFailureMode.Allow);
        (await TenantCountAsync()).Should().Be(mode == ContentInspectionFailureMode.Allow ? 1 : 0);
        Verdicts().Should().Equal((mode == ContentInspectionFailureMode.Allow ? "allow" : "deny", "error"));
        _logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2203 && r.Exception is HttpRequestException);
    }

    [Fact]
    public async Task Failure_InvalidVerdict_IsAFailureNotAnAllow()
    {
        IEmailSendGuard guard = Guard(
            FakeContentInspector.Answering(new EmailContentVerdict((EmailContentVerdictKind)42, null)),
            o => o.ContentInspection.FailureMode = ContentInspectionFailureMode.Deny);

        (await guard.CheckAsync(Mail())).Reason.Should().Be(EmailSendReason.ContentRejected);
        _logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2207);
    }

    [Fact]
    public async Task DefaultVerdict_Denies()
    {
        IEmailSendGuard guard = Guard(FakeContentInspector.Answering(default));

        (await guard.CheckAsync(Mail())).Reason.Should().Be(EmailSendReason.ContentRejected);
    }

    [Fact]
    public async Task Cancellation_CallerGivesUp_ThrowsAndGivesThePermitsBack()
    {
        FakeContentInspector inspector = FakeContentInspector.Hanging();
        IEmailSendGuard guard = Guard(inspector);
        using CancellationTokenSource cts = new();

        ValueTask<EmailSendDecision> pending = guard.CheckAsync(Mail(), cts.Token);
        await cts.CancelAsync();
        Func<Task> wait = () => pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        await wait.Should().ThrowAsync<OperationCanceledException>();
        inspector.LastToken.IsCancellationRequested.Should().BeTrue();
        (await TenantCountAsync()).Should().Be(0);
    }

    [Fact]
    public async Task NotCalled_WithoutContent_OnAPeek_OrWhenTheLimitsDeny()
    {
        FakeContentInspector inspector = FakeContentInspector.Answering(EmailContentVerdict.Allow);
        IEmailSendGuard guard = Guard(inspector, o => o.Tenant.Clear().Add(RateLimitRule.PerHour(1)));

        (await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "other" })).IsAllowed.Should().BeTrue();
        await guard.PeekAsync(Mail());
        (await guard.CheckAsync(Mail())).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(Mail())).Dimension.Should().Be(EmailGuardDimension.Tenant);

        inspector.Calls.Should().ContainSingle("only the admitted message with content is inspected");
        inspector.Calls[0].Message.TenantId.Should().Be("acme");
    }

    [Fact]
    public async Task AddContentInspector_RegistersTheInspectorTheGuardCalls()
    {
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(_time);
        services.AddEmailGuard().AddContentInspector<DenyEverything>();
        await using ServiceProvider sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        (await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(Mail())).Reason.Should().Be(EmailSendReason.ContentRejected);
    }

    private sealed class DenyEverything : IEmailContentInspector
    {
        public ValueTask<EmailContentVerdict> InspectAsync(EmailContentInspectionArguments arguments, CancellationToken cancellationToken)
            => new(EmailContentVerdict.Deny("nothing goes"));
    }
}
