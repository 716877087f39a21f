using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Feedback;

/// <summary>
/// The ratio breakers' circuit across two app instances sharing one Redis: one instance trips a tenant, the other sends
/// its half-open probe and records its feedback, and the recovery or the escalated trip is decided on the shared counts.
/// </summary>
public abstract class RedisRatioBreakerTestsBase(Func<ConnectionMultiplexer> connect) : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(6);
    private static readonly TimeSpan HalfOpenFor = TimeSpan.FromHours(2);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(Start);
    private readonly List<ServiceProvider> _instances = [];
    private readonly List<EmailRatioBreakerArguments> _trips = [];
    private readonly List<EmailRatioBreakerRecoveredArguments> _recoveries = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ServiceProvider instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task Trip_OnOneInstance_ProbeOnTheOther_Recovers_RaisedOnce()
    {
        ServiceProvider a = Instance();
        ServiceProvider b = Instance();
        await SendAsync(a, 100, "a");
        await BounceAsync(a, "b1");
        await BounceAsync(b, "b2");
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Action, t.Level)).Should().Equal((EmailRatioBreakerAction.Reduced, 1));

        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(b);
        (await TenantAsync(b)).BreakerState.Should().Be(EmailRatioBreakerState.HalfOpen);
        (await SendAsync(b, 101, "probe")).Should().Be(100, "half-open at a tenth of 1,000 an hour");
        await BounceAsync(a, "p1");
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle("1 bounce in 100 probe sends is under the line");

        await AdvanceAsync(HalfOpenFor);

        _recoveries.Where(r => r.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle()
            .Which.Should().BeEquivalentTo(new { Partition = "acme", ProbeSends = 100L, ProbeFailures = 1L, Level = 1 });
        _recoveries.Should().HaveCount(2, "the tenant and the user recover, each raised by one instance only");
        await RefreshAsync(b);
        (await TenantAsync(b)).BreakerState.Should().Be(EmailRatioBreakerState.Closed);
    }

    [Fact]
    public async Task HalfOpen_BounceOfMailTrackedBeforeThePhaseOnTheOtherInstance_NotInTheProbe_Recovers()
    {
        // Arrange: instance a tracks a mail's id, then the tenant trips; half-open, b sends the probe.
        ServiceProvider a = Instance();
        ServiceProvider b = Instance();
        await a.GetRequiredService<IEmailGuardFeedback>().TrackForProviderAsync(
            "ses", "<before@app.example>", new EmailSendAttribution { TenantId = "acme", UserId = "user-42", Category = "signup" });
        await SendAsync(a, 100, "a");
        await BounceAsync(a, "b1");
        await BounceAsync(a, "b2");
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(b);
        await SendAsync(b, 20, "probe");

        // Act: the tracked mail's bounce (no tags: the mapping on Redis attributes and dates it) comes to b.
        (await b.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "old",
            ProviderMessageId = "<before@app.example>",
            Recipient = "old@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
        })).Attribution!.TenantId.Should().Be("acme");
        await AdvanceAsync(HalfOpenFor);

        // Assert: 1 over 50 would have been the line; it was sent before the phase, so the probe recovers clean.
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle();
        _recoveries.Where(r => r.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle()
            .Which.Should().BeEquivalentTo(new { ProbeSends = 20L, ProbeFailures = 0L, Level = 1 });
    }

    [Fact]
    public async Task TripClearedEarly_TheInstanceThatSawItRemembersOnRedis_LateBouncesOnAFreshInstanceCountInTheProbe()
    {
        // Arrange: a trips the tenant; 90 minutes in, an operator clears the trip's flag. b's state shows the half-open
        // flag without its trip, b remembers the early phase on Redis, and sends 100 probe mails, tracked.
        ServiceProvider a = Instance();
        ServiceProvider b = Instance();
        await SendAsync(a, 100, "a");
        await BounceAsync(a, "b1");
        await BounceAsync(a, "b2");
        DateTimeOffset plannedEnd = _trips.First(t => t.Dimension == EmailGuardDimension.Tenant).ExpiresAt;
        await AdvanceAsync(TimeSpan.FromMinutes(90));
        (await a.GetRequiredService<IEmailGuardFlags>().ClearAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.HighBounceRate)).Should().Be(1);
        await RefreshAsync(b);
        await AdvanceAsync(TimeSpan.Zero);
        (await SendAsync(b, 100, "probe")).Should().Be(100);
        IEmailGuardFeedback feedback = b.GetRequiredService<IEmailGuardFeedback>();
        for (int i = 0; i < 100; i++)
        {
            await feedback.TrackForProviderAsync("ses", $"<probe{i}@app.example>", new EmailSendAttribution { TenantId = "acme" });
        }

        // Act: the planned end passes; an instance started since (it never saw the early phase) records two late bounces.
        await AdvanceAsync(plannedEnd - _time.GetUtcNow() + TimeSpan.FromMinutes(10));
        ServiceProvider c = Instance();
        foreach (int i in (int[])[1, 2])
        {
            (await c.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"late{i}",
                ProviderMessageId = $"<probe{i}@app.example>",
                Recipient = $"probe{i}@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Permanent,
            })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        // Assert: 2 in 100 probe sends is the 2 % line: the mail was sent in the phase the clear began.
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => t.Level).Should().Equal(1, 2);
    }

    [Fact]
    public async Task Trip_ProbeBouncesOnTheOtherInstance_TripsAgainForLonger()
    {
        ServiceProvider a = Instance();
        ServiceProvider b = Instance();
        await SendAsync(a, 100, "a");
        await BounceAsync(a, "b1");
        await BounceAsync(a, "b2");
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(b);

        await SendAsync(b, 20, "probe");
        DateTimeOffset retripped = _time.GetUtcNow();
        await BounceAsync(b, "p1");

        EmailRatioBreakerArguments trip = _trips.Last(t => t.Dimension == EmailGuardDimension.Tenant);
        (trip.Action, trip.Level, trip.Counts.Sends).Should().Be((EmailRatioBreakerAction.Reduced, 2, 20L), "the level is remembered in Redis, and the probe counted on Redis");
        trip.ExpiresAt.Should().Be(retripped + (2 * TripFor));
        await RefreshAsync(a);
        EmailPartyRatioStatus status = await TenantAsync(a);
        (status.BreakerState, status.BreakerUntil).Should().Be((EmailRatioBreakerState.Tripped, retripped + (2 * TripFor)));

        await AdvanceAsync(HalfOpenFor);
        _recoveries.Should().BeEmpty("instance a's recovery of the first trip is void: b tripped it again");
    }

    [Fact]
    public async Task Trip_TenantIdOutsideTheKeyAlphabet_EscalationMemoryOnRedis_TripsAgainForLonger()
    {
        // The escalation memory is a key-value entry, whose keys and values are printable ASCII only: a tenant id with
        // spaces, accents, CJK and the longest the send guard admits (192 UTF-8 bytes, 184 characters) must still be
        // remembered (its key hashes the id).
        string tenant = "Müller & Söhne 租户 " + new string('x', 168);
        ServiceProvider a = Instance();
        ServiceProvider b = Instance();
        await SendAsync(a, 100, "a", tenant);
        await BounceAsync(a, "b1", tenant);
        await BounceAsync(a, "b2", tenant);
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(b);
        (await TenantAsync(b, tenant)).BreakerState.Should().Be(EmailRatioBreakerState.HalfOpen);

        await SendAsync(b, 20, "probe", tenant);
        await BounceAsync(b, "p1", tenant);

        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Partition, t.Level)).Should().Equal((tenant, 1), (tenant, 2));
    }

    [Fact]
    public async Task AccountBreaker_TightenedByOneInstance_ReducesSignupOnTheOther_ReleasedOnce()
    {
        static void Categories(SendGuardOptions o)
        {
            o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100));
            o.Categories["password-reset"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100));
        }

        ServiceProvider a = Instance(Categories);
        ServiceProvider b = Instance(Categories);
        IEmailGuardFeedback feedback = a.GetRequiredService<IEmailGuardFeedback>();
        for (int i = 0; i < 300; i++)
        {
            (await b.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [$"n{i}@example.com"], Category = "newsletter" })).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < 9; i++)
        {
            await feedback.RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"n-{i}",
                Recipient = $"n{i}@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Permanent,
                Attribution = new EmailSendAttribution { Category = "newsletter" },
            });
        }

        _trips.Should().ContainSingle(t => t.Dimension == EmailGuardDimension.Category && t.Partition == "signup", "9 in 300 is the 3 % line");
        await RefreshAsync(b);
        IEmailSendGuard guardB = b.GetRequiredService<IEmailSendGuard>();
        int signups = 0;
        int resets = 0;
        for (int i = 0; i < 20; i++)
        {
            signups += (await guardB.CheckAsync(new OutboundEmail { To = [$"s{i}@example.com"], Category = "signup" })).IsAllowed ? 1 : 0;
            resets += (await guardB.CheckAsync(new OutboundEmail { To = [$"p{i}@example.com"], Category = "password-reset" })).IsAllowed ? 1 : 0;
        }

        (signups, resets).Should().Be((10, 20), "instance b holds signup to a tenth of its 100 an hour, and password reset not at all");

        for (int i = 0; i < 200; i++)
        {
            EmailSendDecision good = await guardB.CheckAsync(new OutboundEmail { To = [$"g{i}@example.com"], Category = "newsletter" });
            good.IsAllowed.Should().BeTrue($"{good.Reason} {good.Dimension} {good.Detail}");
        }

        // Sends are counted in the background of each check: wait (bounded at 30 s, for a loaded machine) until Redis has
        // them all.
        EmailFeedbackCounts global = null!;
        for (int attempt = 0; attempt < 600; attempt++)
        {
            global = await b.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Global, null);
            if (global.Sends >= 530)
            {
                break;
            }

            await Task.Delay(50);
        }

        global.Sends.Should().Be(530);
        await AdvanceAsync(TimeSpan.FromMinutes(15));
        _recoveries.Should().ContainSingle(r => r.Dimension == EmailGuardDimension.Category && r.Partition == "signup", "9 in 530 is under the 2 % release line");
        (await b.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Category, "signup")).Should().BeEmpty("released for every instance");
    }

    [Fact]
    public async Task Trip_TrippingInstanceDisposed_TheOtherRaisesTheRecovery_Once()
    {
        ServiceProvider a = Instance();
        ServiceProvider b = Instance();
        await SendAsync(a, 100, "a");
        await BounceAsync(a, "b1");
        await BounceAsync(a, "b2");
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle();
        await RefreshAsync(b);
        b.GetRequiredService<EmailGuardFeedback>().Breakers!.PendingRecoveries.Should().Be(2, "b follows the tenant's and the user's half-open phases");

        _instances.Remove(a);
        await a.DisposeAsync();
        await AdvanceAsync(TripFor + HalfOpenFor + TimeSpan.FromSeconds(1));

        _recoveries.Select(r => (r.Dimension, r.Partition)).Should().BeEquivalentTo(
            [(EmailGuardDimension.Tenant, "acme"), (EmailGuardDimension.User, "user-42")], "raised by b, once each, though a tripped them and stopped");
        await RefreshAsync(b);
        (await TenantAsync(b)).BreakerState.Should().Be(EmailRatioBreakerState.Closed);
    }

    [Fact]
    public async Task VolumeHorizon_SendsOnBothInstances_BurstOfBouncesTripsOnTheShared_LastSends()
    {
        static void Horizon(IServiceCollection services) => services.Configure<EmailFeedbackOptions>(o => o.CountLastSends = 100);
        ServiceProvider a = Instance(more: Horizon);
        ServiceProvider b = Instance(more: Horizon);
        (await SendAsync(a, 500, "good")).Should().Be(500);
        (await SendAsync(b, 100, "bot")).Should().Be(100);
        for (int i = 0; i < 10; i++)
        {
            await BounceAsync(i % 2 == 0 ? a : b, "bot" + i);
        }

        foreach (ServiceProvider instance in (ServiceProvider[])[a, b])
        {
            EmailFeedbackCounts tenant = await instance.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "acme");
            (tenant.Sends, tenant.Bounces, tenant.LastSends, tenant.LastSendsBounces).Should().Be((600L, 10L, 100L, 10L), "both instances read the same shared horizon");
            tenant.BounceRate.Should().BeLessThan(0.02, "600 sends dilute the day's window");
        }

        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => t.Action).Should().Equal(
            [EmailRatioBreakerAction.Reduced, EmailRatioBreakerAction.Suspended], "2 and then 4 bounces in the last 100 sends, whichever instance recorded them");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Diluted_NotSentReportedConcurrentlyOnBothInstances_OffsetOncePerEvent_TripsAsUndiluted(bool horizon)
    {
        // Arrange: a tenant's 100 real mails and 100 mails without a category to addresses its provider has unsubscribed,
        // sent and tracked on instance a.
        void Horizon(IServiceCollection services) => services.Configure<EmailFeedbackOptions>(o => o.CountLastSends = horizon ? 100 : 0);
        ServiceProvider a = Instance(more: Horizon);
        ServiceProvider b = Instance(more: Horizon);
        IEmailSendGuard guard = a.GetRequiredService<IEmailSendGuard>();
        IEmailGuardFeedback tracking = a.GetRequiredService<IEmailGuardFeedback>();
        foreach (string prefix in (string[])["real", "unsub"])
        {
            for (int i = 0; i < 100; i++)
            {
                EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = [$"{prefix}{i}@example.com"], TenantId = "acme", UserId = "user-42" });
                decision.IsAllowed.Should().BeTrue();
                await tracking.TrackForProviderAsync("ses", $"<{prefix}{i}@app.example>", decision.Attribution!);
            }
        }

        // Act: the provider drops each unsubscribed mail; its event is delivered three times (the provider's retries),
        // all at once over the two instances, attributed by the tracked id on Redis alone.
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<EmailFeedbackResult>[] calls = [.. Enumerable.Range(0, 300).Select(n => Task.Run(async () =>
        {
            await gate.Task;
            return await (n % 2 == 0 ? a : b).GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"u{n / 3}",
                ProviderMessageId = $"<unsub{n / 3}@app.example>",
                Recipient = $"unsub{n / 3}@example.com",
                Kind = EmailFeedbackKind.Unsubscribed,
                SuppressedByProvider = true,
            });
        }))];
        gate.SetResult();
        EmailFeedbackResult[] results = await Task.WhenAll(calls);

        // Assert: one send left out per mail, exactly, for every party; then 2 hard bounces in the 100 real sends trip.
        results.Count(r => r.Outcome == EmailFeedbackOutcome.Recorded).Should().Be(100);
        results.Count(r => r.Outcome == EmailFeedbackOutcome.Duplicate).Should().Be(200);
        foreach (EmailGuardDimension dimension in (EmailGuardDimension[])[EmailGuardDimension.Global, EmailGuardDimension.Tenant, EmailGuardDimension.User])
        {
            EmailFeedbackCounts counts = await b.GetRequiredService<IEmailFeedbackCounts>().GetAsync(
                dimension, dimension == EmailGuardDimension.Tenant ? "acme" : dimension == EmailGuardDimension.User ? "user-42" : null);

            // The time window leaves the 100 dropped mails out; the last-sends horizon does not offset them (a late
            // not-sent there would take off a send it no longer holds), so its last 100 sends are still 100.
            (counts.Sends, counts.LastSends).Should().Be((100L, horizon ? 100L : 0L), $"the {dimension}'s 100 dropped mails are left out of the window");
        }

        await BounceAsync(a, "real0");
        await BounceAsync(b, "real1");
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Action, t.Level, t.Counts.Sends, t.Counts.Bounces))
            .Should().Equal((EmailRatioBreakerAction.Reduced, 1, 100L, 2L));
    }

    [Fact]
    public async Task Horizon_LateNotSentOnTheOtherInstance_IsLeftOutOfTheHorizon_NoBounceDropsOut()
    {
        // Arrange: the last 100 sends at a 25 % line; 400 clean mails, 80 real and 20 the provider drops (tracked on a);
        // 19 real ones bounce, then b records the drops.
        void Options(IServiceCollection services)
        {
            services.Configure<EmailFeedbackOptions>(o => o.CountLastSends = 100);
            services.Configure<EmailRatioBreakerOptions>(o =>
            {
                o.BounceRateToReduce = 0.25;
                o.BounceRateToSuspend = 0.5;
            });
        }

        ServiceProvider a = Instance(more: Options);
        ServiceProvider b = Instance(more: Options);
        IEmailSendGuard guard = a.GetRequiredService<IEmailSendGuard>();
        foreach ((string prefix, int count) in ((string, int)[])[("clean", 400), ("real", 80), ("unsub", 20)])
        {
            for (int i = 0; i < count; i++)
            {
                EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = [$"{prefix}{i}@example.com"], TenantId = "acme", UserId = "user-42" });
                decision.IsAllowed.Should().BeTrue();
                if (prefix == "unsub")
                {
                    await a.GetRequiredService<IEmailGuardFeedback>().TrackForProviderAsync("ses", $"<{prefix}{i}@app.example>", decision.Attribution!);
                }
            }
        }

        for (int i = 0; i < 19; i++)
        {
            await BounceAsync(a, $"real{i}");
        }

        // Act
        for (int i = 0; i < 20; i++)
        {
            (await b.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"u{i}",
                ProviderMessageId = $"<unsub{i}@app.example>",
                Recipient = $"unsub{i}@example.com",
                Kind = EmailFeedbackKind.Unsubscribed,
                SuppressedByProvider = true,
            })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        EmailFeedbackCounts after = await b.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "acme");
        await BounceAsync(b, "real19");

        // Assert: the window leaves the 20 out; the horizon is as it was, with its 19 bounces all in it, and the 20th
        // bounce (20 in 100) is under the 25 % line.
        after.Should().BeEquivalentTo(new { Sends = 480L, LastSends = 100L, LastSendsBounces = 19L });
        _trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Should().BeEmpty("20 in the last 100 is under the 25 % line");
    }

    private async Task AdvanceAsync(TimeSpan by)
    {
        _time.Advance(by);
        foreach (ServiceProvider instance in _instances)
        {
            await instance.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
        }
    }

    private static Task RefreshAsync(ServiceProvider instance) => instance.GetRequiredService<GuardStateCache>().StartRefresh();

    private static async Task<int> SendAsync(ServiceProvider instance, int count, string prefix, string tenant = "acme")
    {
        IEmailSendGuard guard = instance.GetRequiredService<IEmailSendGuard>();
        int admitted = 0;
        for (int i = 0; i < count; i++)
        {
            OutboundEmail mail = new() { To = [$"{prefix}{i}@example.com"], TenantId = tenant, UserId = "user-42", Category = "signup" };
            if ((await guard.CheckAsync(mail)).IsAllowed)
            {
                admitted++;
            }
        }

        return admitted;
    }

    private static async Task BounceAsync(ServiceProvider instance, string id, string tenant = "acme")
    {
        EmailFeedbackResult result = await instance.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = id,
            Recipient = id + "@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = new EmailSendAttribution { TenantId = tenant, UserId = "user-42", Category = "signup" },
        });
        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
    }

    private static async Task<EmailPartyRatioStatus> TenantAsync(ServiceProvider instance, string tenant = "acme")
        => (await instance.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = tenant })).Ratios[1];

    private ServiceProvider Instance(Action<SendGuardOptions>? guard = null, Action<IServiceCollection>? more = null)
    {
        ConnectionMultiplexer multiplexer = connect();
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(_time);
        more?.Invoke(services);
        services.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 20;
            o.TripFor = TripFor;
            o.HalfOpenFor = HalfOpenFor;
            o.HalfOpenMinimumSends = 50;
            o.NetworkBouncesToBan = 0;
            o.OnTripped = args =>
            {
                lock (_trips)
                {
                    _trips.Add(args);
                }

                return ValueTask.CompletedTask;
            };
            o.OnRecovered = args =>
            {
                lock (_recoveries)
                {
                    _recoveries.Add(args);
                }

                return ValueTask.CompletedTask;
            };
        });
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = _prefix;
                o.UseServerTime = false;
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            })
            .AddSendGuard(o =>
            {
                o.StateRefreshInterval = TimeSpan.FromHours(1);
                o.Tenant.Add(RateLimitRule.PerHour(1_000));
                guard?.Invoke(o);
            });
        ServiceProvider provider = services.BuildServiceProvider();
        _instances.Add(provider);
        return provider;
    }
}

/// <summary>The ratio breakers' circuit across two instances on one Redis server.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRatioBreakerTests(RedisServerFixture redis) : RedisRatioBreakerTestsBase(redis.CreateMultiplexer);
