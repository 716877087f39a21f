namespace EmailGuard.Tests.Guard;

/// <summary>A slow tenant limit provider (the app's database) never holds a check longer than the resilience timeout.</summary>
public sealed class TenantLimitStallTests
{
    [Fact]
    public async Task CheckAsync_ProviderHangs_DefaultTenantRulesApplyAtTheTimeout_ThenTheAnswerOnceItCame()
    {
        GatedProvider provider = new(RateLimitRule.PerHour(1));
        await using ProviderBackedGuard app = Start(provider);
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial" };

        Task<EmailSendDecision>[] waiting = [.. Enumerable.Range(0, 3).Select(_ => app.Guard.CheckAsync(mail).AsTask())];
        bool anyDoneEarly = waiting.Any(c => c.IsCompleted);
        app.Time.Advance(ProviderBackedGuard.Timeout);
        EmailSendDecision[] first = await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(30));
        provider.Release();
        await app.WhenCachedAsync("trial");
        EmailSendDecision afterAnswer = await app.Guard.CheckAsync(mail);

        anyDoneEarly.Should().BeFalse("a check with no cached answer waits for the lookup, up to the timeout");
        first.Should().OnlyContain(d => d.IsAllowed, "the defaults (3 per hour) applied while the provider was silent");
        provider.Lookups.Should().Be(1, "concurrent checks share one lookup");
        afterAnswer.Reason.Should().Be(EmailSendReason.LimitExceeded, "the tenant's own limit (1 per hour) applies once it is known");
        afterAnswer.Dimension.Should().Be(EmailGuardDimension.Tenant);
    }

    [Fact]
    public async Task CheckAsync_CachedAnswerExpiredWithinItsGraceAndProviderHangs_KeepsTheLastAnswerWithoutWaiting()
    {
        GatedProvider provider = new(RateLimitRule.PerHour(1)) { Open = true };
        await using ProviderBackedGuard app = Start(provider);
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial" };
        (await app.Guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        provider.Open = false;

        // Past the one-minute lifetime, within the grace of one more.
        app.Time.Advance(TimeSpan.FromSeconds(90));
        ValueTask<EmailSendDecision> check = app.Guard.CheckAsync(mail);

        check.IsCompleted.Should().BeTrue("an expired answer serves while the next lookup runs");
        (await check).Reason.Should().Be(EmailSendReason.LimitExceeded, "the tenant's own limit, not the laxer default, still applies");
        provider.Lookups.Should().Be(2);
    }

    [Fact]
    public async Task CheckAsync_CachedAnswerPastItsHardAge_WaitsForTheLookup_TheCutCapApplies()
    {
        // The operator cut the tenant's cap (100 an hour to 1) while this instance was idle for longer than the
        // lifetime plus its grace (1 + 1 minute): the old cap must not serve one more check.
        GatedProvider provider = new(RateLimitRule.PerHour(100)) { Open = true };
        await using ProviderBackedGuard app = Start(provider);
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "abuser" };
        (await app.Guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        provider.Rules = [RateLimitRule.PerHour(1)];
        provider.Open = false;

        app.Time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(1));
        Task<EmailSendDecision> check = app.Guard.CheckAsync(mail).AsTask();
        bool doneBeforeAnswer = check.IsCompleted;
        provider.Release();
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        doneBeforeAnswer.Should().BeFalse("an answer older than the lifetime plus its grace waits for the lookup");
        decision.Reason.Should().Be(EmailSendReason.LimitExceeded, "the cut cap (1 an hour, 1 used) applies to the very next check");
        decision.Dimension.Should().Be(EmailGuardDimension.Tenant);
    }

    [Fact]
    public async Task CheckAsync_CachedAnswerBelowTheDefaultsPastItsHardAgeAndProviderHangs_TheTenantIsNotLoosenedToTheDefaults()
    {
        // A trial tenant held to 1 an hour (the defaults allow 3); the instance was idle, then the database hangs.
        GatedProvider provider = new(RateLimitRule.PerHour(1)) { Open = true };
        await using ProviderBackedGuard app = Start(provider);
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial" };
        (await app.Guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        provider.Open = false;

        app.Time.Advance(TimeSpan.FromMinutes(3));
        Task<EmailSendDecision> check = app.Guard.CheckAsync(mail).AsTask();
        bool doneEarly = check.IsCompleted;
        app.Time.Advance(ProviderBackedGuard.Timeout);
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        doneEarly.Should().BeFalse("an answer older than the lifetime plus its grace waits for the lookup");
        decision.Reason.Should().Be(EmailSendReason.LimitExceeded, "the stricter of its last answer (1 an hour, 1 used) and the defaults (3) applies, not the defaults");
        decision.Dimension.Should().Be(EmailGuardDimension.Tenant);
        provider.Lookups.Should().Be(2);
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 3037).And.NotContain(r => r.Id.Id == 1005 || r.Id.Id == 3013);
    }

    [Fact]
    public async Task CheckAsync_CachedAnswerAboveTheDefaultsPastItsHardAgeAndProviderHangs_TheDefaultsApplyAtTheTimeout()
    {
        // A tenant allowed 100 an hour (the defaults allow 3): an old answer is not applied alone, so the defaults cap it.
        GatedProvider provider = new(RateLimitRule.PerHour(100)) { Open = true };
        await using ProviderBackedGuard app = Start(provider);
        static OutboundEmail Mail(int i) => new() { To = [$"r{i}@example.com"], TenantId = "big" };
        for (int i = 0; i < 3; i++)
        {
            (await app.Guard.CheckAsync(Mail(i))).IsAllowed.Should().BeTrue();
        }

        provider.Open = false;
        app.Time.Advance(TimeSpan.FromMinutes(3));
        Task<EmailSendDecision> check = app.Guard.CheckAsync(Mail(9)).AsTask();
        app.Time.Advance(ProviderBackedGuard.Timeout);
        EmailSendDecision decision = await check.WaitAsync(TimeSpan.FromSeconds(30));

        decision.Reason.Should().Be(EmailSendReason.LimitExceeded, "the defaults (3 an hour, 3 used) cap an answer too old to apply alone");
        decision.Dimension.Should().Be(EmailGuardDimension.Tenant);
    }

    [Fact]
    public async Task CheckAsync_LookupStillRunningWhenTheLastAnswerPassesItsHardAge_LaterChecksStopServingItToo()
    {
        GatedProvider provider = new(RateLimitRule.PerHour(1)) { Open = true };
        await using ProviderBackedGuard app = Start(provider);
        OutboundEmail mail = new() { To = ["a@example.com"], TenantId = "trial" };
        (await app.Guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();
        provider.Open = false;

        // Within the grace: the last answer serves and a lookup starts, which hangs.
        app.Time.Advance(TimeSpan.FromSeconds(70));
        ValueTask<EmailSendDecision> withinGrace = app.Guard.CheckAsync(mail);
        bool servedWithinGrace = withinGrace.IsCompleted;

        // Past the last answer's hard age, while that lookup still runs (its entry not yet expired), then after.
        app.Time.Advance(TimeSpan.FromSeconds(51));
        ValueTask<EmailSendDecision> pastWhileLooking = app.Guard.CheckAsync(mail);
        bool servedPastWhileLooking = pastWhileLooking.IsCompleted;
        app.Time.Advance(ProviderBackedGuard.Timeout);
        await pastWhileLooking.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        app.Time.Advance(TimeSpan.FromMinutes(1));
        ValueTask<EmailSendDecision> afterLookupExpired = app.Guard.CheckAsync(mail);
        bool servedAfterLookupExpired = afterLookupExpired.IsCompleted;
        app.Time.Advance(ProviderBackedGuard.Timeout);
        await afterLookupExpired.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        servedWithinGrace.Should().BeTrue();
        (await withinGrace).Reason.Should().Be(EmailSendReason.LimitExceeded);
        servedPastWhileLooking.Should().BeFalse("the answer's age runs on while its successor's lookup hangs");
        servedAfterLookupExpired.Should().BeFalse("a lookup that never came back does not make the answer before it young again");
    }

    /// <summary>A guard over <paramref name="provider"/> whose default tenant rules allow 3 an hour.</summary>
    private static ProviderBackedGuard Start(GatedProvider provider) => ProviderBackedGuard.Start(provider, RateLimitRule.PerHour(3));

    /// <summary>Answers with <c>rules</c>, but only once released (or at once while <see cref="Open"/>).</summary>
    private sealed class GatedProvider(params RateLimitRule[] rules) : ITenantLimitProvider
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _lookups;

        public bool Open { get; set; }

        public RateLimitRule[] Rules { get; set; } = rules;

        public int Lookups => Volatile.Read(ref _lookups);

        public void Release() => _gate.TrySetResult();

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _lookups);
            if (!Open)
            {
                await _gate.Task;
            }

            return new TenantLimits { Rules = Rules };
        }
    }
}
