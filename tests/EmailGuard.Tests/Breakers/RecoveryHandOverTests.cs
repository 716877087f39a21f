using EmailGuard.Tests.Guard;
using EmailGuard.Tests.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// The recovered event is not lost with the instance that tripped the breaker: every instance follows the half-open
/// phases it sees in the shared flags, and exactly one raises the recovery. Two (or three) guard instances share one
/// in-memory rate-limit store, state store and key-value store, as instances share one Redis.
/// </summary>
public sealed class RecoveryHandOverTests : IAsyncDisposable
{
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(6);
    private static readonly TimeSpan HalfOpenFor = TimeSpan.FromHours(2);

    private readonly FakeTimeProvider _time = new(SendGuardTestServices.Start);
    private readonly InMemoryRateLimitStore _store;
    private readonly InMemoryEmailGuardStateStore _state;
    private readonly InMemoryKeyValueStore _keyValues;
    private readonly List<ServiceProvider> _instances = [];
    private readonly List<(string Instance, EmailRatioBreakerRecoveredArguments Args)> _recoveries = [];
    private readonly List<(string Instance, EmailRatioBreakerArguments Args)> _trips = [];
    private Action<EmailRatioBreakerArguments>? _onTripped;

    public RecoveryHandOverTests()
    {
        _store = new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), _time);
        _state = new InMemoryEmailGuardStateStore(_time);
        _keyValues = new InMemoryKeyValueStore(100_000, _time);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ServiceProvider instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    private ServiceProvider Instance(
        string name, bool accountBreaker = false, IRateLimitStore? store = null, IEmailGuardKeyValueStore? keyValues = null, Action<IServiceCollection>? more = null)
    {
        ServiceProvider provider = SendGuardTestServices.Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(1_000));
                o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(100));
            },
            more: s =>
            {
                s.AddSingleton(store ?? _store);
                s.AddSingleton<IEmailGuardStateStore>(_state);
                s.AddSingleton(keyValues ?? _keyValues);
                s.Configure<EmailRatioBreakerOptions>(o =>
                {
                    o.MinimumSends = 20;
                    o.TripFor = TripFor;
                    o.HalfOpenFor = HalfOpenFor;
                    o.HalfOpenMinimumSends = 50;
                    o.NetworkBouncesToBan = 0;
                    if (!accountBreaker)
                    {
                        o.RiskyCategories.Clear();
                    }

                    o.OnTripped = args =>
                    {
                        lock (_trips)
                        {
                            _trips.Add((name, args));
                        }

                        _onTripped?.Invoke(args);

                        return ValueTask.CompletedTask;
                    };
                    o.OnRecovered = args =>
                    {
                        lock (_recoveries)
                        {
                            _recoveries.Add((name, args));
                        }

                        return ValueTask.CompletedTask;
                    };
                });
                more?.Invoke(s);
            },
            time: _time);
        _instances.Add(provider);
        return provider;
    }

    /// <summary>Sends <paramref name="count"/> mails of the tenant acme or, when given, of <paramref name="category"/> (and no tenant).</summary>
    private static async Task SendAsync(ServiceProvider instance, int count, string prefix, string? category = null)
    {
        IEmailSendGuard guard = instance.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < count; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"{prefix}{i}@example.com"], TenantId = category is null ? "acme" : null, Category = category }))
                .IsAllowed.Should().BeTrue();
        }
    }

    /// <summary>A hard bounce of a mail of the tenant acme or, when given, of <paramref name="category"/> (and no tenant).</summary>
    private static async Task BounceAsync(ServiceProvider instance, string id, string? category = null)
        => (await instance.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = id,
            Recipient = id + "@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = category is null ? new EmailSendAttribution { TenantId = "acme" } : new EmailSendAttribution { Category = category },
        })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

    /// <summary>A check on the instance: its state refresh (interval zero here) sees the shared flags.</summary>
    private static Task TouchAsync(ServiceProvider instance)
        => instance.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["touch@example.com"], TenantId = "other" }).AsTask();

    private async Task AdvanceAsync(TimeSpan by)
    {
        _time.Advance(by);
        foreach (ServiceProvider instance in _instances)
        {
            await instance.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
        }
    }

    private List<(string Instance, EmailRatioBreakerRecoveredArguments Args)> TenantRecoveries()
        => [.. _recoveries.Where(r => r.Args.Dimension == EmailGuardDimension.Tenant)];

    private async Task TripOnAsync(ServiceProvider instance)
    {
        await SendAsync(instance, 100, "a");
        await BounceAsync(instance, "b1");
        await BounceAsync(instance, "b2");
        _trips.Where(t => t.Args.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle();
    }

    [Fact]
    public async Task TrippingInstanceStops_TheOtherRaisesTheRecovery_Once()
    {
        ServiceProvider a = Instance("a");
        ServiceProvider b = Instance("b");
        await TouchAsync(b);
        await TripOnAsync(a);
        await TouchAsync(b);
        b.GetRequiredService<EmailGuardFeedback>().Breakers!.PendingRecoveries.Should().Be(1, "b follows the half-open phase a started");

        _instances.Remove(a);
        await a.DisposeAsync();
        await AdvanceAsync(TripFor + HalfOpenFor + TimeSpan.FromSeconds(1));

        (string instance, EmailRatioBreakerRecoveredArguments recovered) = TenantRecoveries().Should().ContainSingle().Subject;
        instance.Should().Be("b");
        (recovered.Partition, recovered.Level, recovered.Reason).Should().Be(("acme", 1, EmailGuardFlagReasons.HighBounceRate));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AccountBreaker_TightenedOnOne_ReleasedOnce_AlsoWhenThatInstanceStopped(bool stop)
    {
        ServiceProvider a = Instance("a", accountBreaker: true);
        ServiceProvider b = Instance("b", accountBreaker: true);
        await SendAsync(a, 300, "n", "newsletter");
        for (int i = 0; i < 9; i++)
        {
            await BounceAsync(a, $"n{i}", "newsletter");
        }

        _trips.Should().ContainSingle(t => t.Args.Dimension == EmailGuardDimension.Category && t.Args.Partition == "signup", "9 in 300 is the 3 % line");
        await TouchAsync(b);
        b.GetRequiredService<EmailGuardFeedback>().Breakers!.PendingRecoveries.Should().Be(1, "b follows the category a tightened");
        if (stop)
        {
            _instances.Remove(a);
            await a.DisposeAsync();
        }

        await SendAsync(b, 200, "g", "newsletter");
        await AdvanceAsync(TimeSpan.FromMinutes(15));

        (string instance, EmailRatioBreakerRecoveredArguments released) = _recoveries.Should().ContainSingle("9 in 500 is under the 2 % release line, raised once").Subject;
        (released.Dimension, released.Partition).Should().Be((EmailGuardDimension.Category, "signup"));
        if (stop)
        {
            instance.Should().Be("b");
        }

        (await b.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Category, "signup")).Should().BeEmpty();
    }

    [Fact]
    public async Task AccountBreaker_BouncesReachBothInstancesAtOnce_OneReadNoFlagBeforeTheOtherTightened_TightensOnce()
    {
        // Arrange: b finds the account over the line, having read no flag on signup, and waits at its claim of the
        // tightening until a has tightened signup (b paused between its read of the flags and its claim, made certain).
        // The claim is the same key whatever b read (no level, unlike a tenant's trip), so b's claim finds a's.
        Gate gate = new();
        GatedKeyValues gated = new(_keyValues, gate, static key => key.StartsWith("rb:k:", StringComparison.Ordinal) && key.EndsWith(":t", StringComparison.Ordinal));
        ServiceProvider a = Instance("a", accountBreaker: true);
        ServiceProvider b = Instance("b", accountBreaker: true, keyValues: gated);
        _onTripped = args =>
        {
            if (args.Dimension == EmailGuardDimension.Category)
            {
                gate.Release();
            }
        };
        await SendAsync(a, 300, "n", "newsletter");
        for (int i = 0; i < 8; i++)
        {
            await BounceAsync(a, $"n{i}", "newsletter");
        }

        // Act: the 9th bounce on b and the 10th on a, each at or over the 3 % line of 300.
        Task onB = BounceAsync(b, "n8", "newsletter");
        (await Task.WhenAny(gate.Reached, Task.Delay(TimeSpan.FromSeconds(30)))).Should().Be(gate.Reached, "b finds the account over and claims the tightening");
        await BounceAsync(a, "n9", "newsletter");
        await onB.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert
        _trips.Select(t => (t.Instance, t.Args.Dimension, t.Args.Partition)).Should().Equal(("a", EmailGuardDimension.Category, "signup"));
    }

    [Fact]
    public async Task AccountBreaker_ReleasingReadingGoesOnAfterTheFlagEnded_DoesNotClearAnotherInstancesTighteningSince()
    {
        // Arrange: signup is held a minute at a time, read 6 s before each end. a tightens it and stops; b follows it. Good
        // mail brings the account under the release line, and b's reading reads it so, then waits past the flag's end
        // (its continuation late on a starved thread pool, made certain; within b's store timeout).
        bool reading = false;
        Gate gate = new();
        GatedStore gated = new(_store, gate, _ => reading);
        ServiceProvider b = await ReleasingReadingAtGateAsync(gate, s => s.AddSingleton<IRateLimitStore>(gated), () => reading = true);

        // Act: the flag ends; bounces on c bring the account over the 3 % line (16 in 501), and c tightens signup again;
        // then b's reading goes on.
        ServiceProvider c = await TightenAgainOnAnotherInstanceAsync();
        gate.Release();
        await b.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: c's tightening stands, and nothing is released: b's reading was of the flag that ended, not of c's.
        _trips.Select(t => (t.Instance, t.Args.Partition)).Should().Equal(("a", "signup"), ("c", "signup"));
        await ShouldStayTightenedAsync(c);
    }

    [Fact]
    public async Task AccountBreaker_AnotherInstanceTightensBetweenTheReleasingReadingsReReadAndItsClear_TheCategoryStaysTightened()
    {
        // Arrange: as above, but b's reading reads the flag it read for (still on), and waits just before its clear
        // loads the flags to remove (made certain: b's state store holds that call).
        Gate gate = new();
        ServiceProvider b = await ReleasingReadingAtGateAsync(gate, s => s.AddSingleton<IEmailGuardStateStore>(new ClearGatedStateStore(_state, gate)));

        // Act: the flag ends; bounces on c bring the account over the 3 % line (16 in 501), and c tightens signup again;
        // then b's clear goes on, and removes c's flag with the ended one's reason.
        ServiceProvider c = await TightenAgainOnAnotherInstanceAsync();
        _trips.Select(t => (t.Instance, t.Args.Partition)).Should().Equal([("a", "signup"), ("c", "signup")], "c tightened while b waited");
        gate.Release();
        await b.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: the account is over the 3 % line, so signup stays tightened, and nothing is released.
        await ShouldStayTightenedAsync(c);
    }

    [Fact]
    public async Task AccountBreaker_StoreFailsInTheReadingAfterTheClear_TheReleaseIsStillRaisedAndTheCategoryReleased()
    {
        // Arrange: a tightens signup, b follows it, a stops; b's store becomes unreachable once b has cleared the flag,
        // so the reading after the clear fails.
        var store = new EmailGuard.Testing.Stores.SwitchableRateLimitStore(_store);
        ServiceProvider a = Instance("a", accountBreaker: true);
        ServiceProvider b = Instance("b", accountBreaker: true, store: store, more: s => s.AddSingleton<IEmailGuardStateStore>(new DownAfterClearStateStore(_state, store)));
        await TightenedOnAFollowedByBThenGoodMailAsync(a, b);

        // Act
        await AdvanceAsync(TimeSpan.FromMinutes(15));

        // Assert: the flag is gone, so the category is released; the release is raised, as it is when the reading succeeds.
        store.Down.Should().BeTrue("b cleared the flag");
        store.Down = false;
        (await b.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Category, "signup")).Should().BeEmpty();
        (string instance, EmailRatioBreakerRecoveredArguments released) = _recoveries.Should().ContainSingle("9 in 500 is under the 2 % release line, and the flag was cleared").Subject;
        (instance, released.Dimension, released.Partition).Should().Be(("b", EmailGuardDimension.Category, "signup"));
    }

    [Fact]
    public async Task BothInstancesAlive_TheRecoveryIsRaisedOnce()
    {
        ServiceProvider a = Instance("a");
        ServiceProvider b = Instance("b");
        await TripOnAsync(a);
        await TouchAsync(b);

        await AdvanceAsync(TripFor + HalfOpenFor + TimeSpan.FromSeconds(1));

        TenantRecoveries().Should().ContainSingle();
        a.GetRequiredService<EmailGuardFeedback>().Breakers!.PendingRecoveries.Should().Be(0);
        b.GetRequiredService<EmailGuardFeedback>().Breakers!.PendingRecoveries.Should().Be(0);
    }

    [Fact]
    public async Task InstanceStartedAfterTheTrip_AdoptsThePhase_WhenTheTripperIsGone()
    {
        ServiceProvider a = Instance("a");
        await TripOnAsync(a);
        _instances.Remove(a);
        await a.DisposeAsync();
        await AdvanceAsync(TripFor);

        ServiceProvider c = Instance("c");
        await TouchAsync(c);
        await AdvanceAsync(HalfOpenFor + TimeSpan.FromSeconds(1));

        TenantRecoveries().Should().ContainSingle().Which.Instance.Should().Be("c");
    }

    [Fact]
    public async Task ProbeBouncesOnTheOther_TripsAgain_NoInstanceRaisesTheOldRecovery()
    {
        ServiceProvider a = Instance("a");
        ServiceProvider b = Instance("b");
        await TripOnAsync(a);
        await TouchAsync(b);
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await SendAsync(b, 20, "probe");
        await BounceAsync(b, "p1");
        _trips.Where(t => t.Args.Dimension == EmailGuardDimension.Tenant).Select(t => t.Args.Level).Should().Equal(1, 2);
        await TouchAsync(a);

        _instances.Remove(b);
        await b.DisposeAsync();
        await AdvanceAsync(HalfOpenFor);
        TenantRecoveries().Should().BeEmpty("the first phase was replaced by the second trip");

        await AdvanceAsync((2 * TripFor) + HalfOpenFor);
        TenantRecoveries().Should().ContainSingle().Which.Should().Match<(string Instance, EmailRatioBreakerRecoveredArguments Args)>(
            r => r.Instance == "a" && r.Args.Level == 2, "a adopted the phase b started, and b is gone");
    }

    [Fact]
    public async Task ProbeBouncesReachBothInstancesAtOnce_TripsAgainOnce()
    {
        // Arrange: b counts its probe bounce after it read the half-open flag, and goes on only once a has tripped the
        // party again on its own (the interleaving of a burst spread over the instances, made certain).
        Gate gate = new();
        GatedStore gated = new(_store, gate, static requests => requests.Length == 1 && requests.Span[0].Key.Contains("fb:pb:", StringComparison.Ordinal));
        ServiceProvider a = Instance("a");
        ServiceProvider b = Instance("b", store: gated);
        _onTripped = args =>
        {
            if (args.Level == 2)
            {
                gate.Release();
            }
        };
        await TripOnAsync(a);
        await TouchAsync(b);
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await SendAsync(a, 20, "probe");

        // Act
        Task onB = BounceAsync(b, "p1");
        (await Task.WhenAny(gate.Reached, Task.Delay(TimeSpan.FromSeconds(30)))).Should().Be(gate.Reached, "b counts its probe bounce and waits");
        await BounceAsync(a, "p2");
        await onB.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: one trip again, at level 2, whichever instance judged what.
        _trips.Where(t => t.Args.Dimension == EmailGuardDimension.Tenant).Select(t => t.Args.Level).Should().Equal(1, 2);
        IReadOnlyList<EmailGuardFlag> flags = await a.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme");
        flags.Single(f => f.Reason == EmailGuardFlagReasons.HighBounceRate).Suspend.Should().BeTrue("a's trip again (4 % of the probe's 50) stands");
    }

    [Fact]
    public async Task BouncesReachBothInstancesAtOnce_OneReadTheFlagsBeforeTheOtherTripped_TripsOnce()
    {
        // Arrange: b judges the tenant over the line, having read no trip flag, and waits at its read of the breaker's
        // level until a has tripped the party (a burst spread over the instances, b paused between its two reads: a GC,
        // a slow store; made certain here).
        // A tenant breaker's level: rb:t:<reason>:<party>, not its claims (rb:t:...:t:...).
        Gate gate = new();
        GatedKeyValues gated = new(_keyValues, gate, static key => key.StartsWith("rb:t:", StringComparison.Ordinal) && key.Count(c => c == ':') == 3);
        ServiceProvider a = Instance("a");
        ServiceProvider b = Instance("b", keyValues: gated);
        _onTripped = args =>
        {
            if (args.Dimension == EmailGuardDimension.Tenant)
            {
                gate.Release();
            }
        };
        await SendAsync(a, 100, "a");
        await BounceAsync(a, "b1");

        // Act: 2 in 100 on b and 3 in 100 on a, each at the 2 % line.
        Task onB = BounceAsync(b, "b2");
        (await Task.WhenAny(gate.Reached, Task.Delay(TimeSpan.FromSeconds(30)))).Should().Be(gate.Reached, "b judges the tenant over and reads its level");
        await BounceAsync(a, "b3");
        await onB.WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: one trip, at level 1; b does not trip the party a level higher over a's trip.
        _trips.Where(t => t.Args.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Instance, t.Args.Level)).Should().Equal(("a", 1));
        IReadOnlyList<EmailGuardFlag> flags = await a.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme");
        flags.Single(f => f.Reason == EmailGuardFlagReasons.HighBounceRate).Metadata.Should().Contain("level", "1");
    }

    /// <summary>Holds the first call that reaches it gated until <see cref="Release"/>: an instance paused at one point of its work.</summary>
    private sealed class Gate
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reached => _reached.Task;

        public void Release() => _released.TrySetResult();

        public async Task PassAsync(bool gated)
        {
            if (gated && _reached.TrySetResult())
            {
                await _released.Task.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Signup held a minute at a time, read 6 s before each end: a tightens it (9 bounces in 300) and stops; b, with
    /// <paramref name="moreForB"/>, follows it; 200 good mails bring the account under the release line (9 in 501), and
    /// b's reading of the round begins and waits at <paramref name="gate"/>, where b's stores hold it.
    /// </summary>
    private async Task<ServiceProvider> ReleasingReadingAtGateAsync(Gate gate, Action<IServiceCollection> moreForB, Action? beforeReading = null)
    {
        ServiceProvider a = Instance("a", accountBreaker: true, more: EveryMinute);
        ServiceProvider b = Instance("b", accountBreaker: true, more: s =>
        {
            EveryMinute(s);
            moreForB(s);
            s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromSeconds(30));
        });
        await TightenedOnAFollowedByBThenGoodMailAsync(a, b);
        beforeReading?.Invoke();
        _time.Advance(TimeSpan.FromSeconds(54));
        (await Task.WhenAny(gate.Reached, Task.Delay(TimeSpan.FromSeconds(30)))).Should().Be(gate.Reached, "b reads the ratios 6 s before the flag ends: 9 in 501");
        return b;
    }

    /// <summary>a tightens signup (9 bounces in 300, over the account's 3 % line) and stops; b follows it; 200 good mails on b bring the account under the 2 % release line (9 in 500).</summary>
    private async Task TightenedOnAFollowedByBThenGoodMailAsync(ServiceProvider a, ServiceProvider b)
    {
        await SendAsync(a, 300, "n", "newsletter");
        for (int i = 0; i < 9; i++)
        {
            await BounceAsync(a, $"n{i}", "newsletter");
        }

        await TouchAsync(b);
        _instances.Remove(a);
        await a.DisposeAsync();
        await SendAsync(b, 200, "g", "newsletter");
    }

    /// <summary>The flag ends; bounces on a new instance c bring the account over the 3 % line (16 in 501), and c tightens signup again.</summary>
    private async Task<ServiceProvider> TightenAgainOnAnotherInstanceAsync()
    {
        _time.Advance(TimeSpan.FromSeconds(7));
        ServiceProvider c = Instance("c", accountBreaker: true, more: EveryMinute);
        for (int i = 9; i < 16; i++)
        {
            await BounceAsync(c, $"n{i}", "newsletter");
        }

        return c;
    }

    /// <summary>Signup is tightened, as 16 bounces in 501 call for, and nothing was released.</summary>
    private async Task ShouldStayTightenedAsync(ServiceProvider instance)
    {
        (await instance.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Category, "signup"))
            .Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.AccountBounceRate, "16 in 501 is over the 3 % line");
        _recoveries.Should().BeEmpty();
    }

    private static void EveryMinute(IServiceCollection services)
        => services.Configure<EmailRatioBreakerOptions>(o => o.AccountCheckEvery = TimeSpan.FromMinutes(1));

    /// <summary>The shared state store as instance b sees it: the first load of the flags that a clear makes waits at <paramref name="gate"/>.</summary>
    private sealed class ClearGatedStateStore(IEmailGuardStateStore inner, Gate gate) : EmailGuard.Testing.Stores.ForwardingStateStore(inner)
    {
        public override async ValueTask<long> GetVersionAsync(CancellationToken cancellationToken)
        {
            // A clear reads the state's version before the flags it removes, synchronously from EmailGuardFlags.ClearAsync
            // (its state machine's frame); nothing else b does in this test clears.
            string trace = Environment.StackTrace;
            await gate.PassAsync(trace.Contains("EmailGuardFlags", StringComparison.Ordinal) && trace.Contains("ClearAsync", StringComparison.Ordinal));
            return await Inner.GetVersionAsync(cancellationToken);
        }
    }

    /// <summary>The shared state store as instance b sees it: once a clear has loaded the flags, b's rate-limit store is unreachable.</summary>
    private sealed class DownAfterClearStateStore(IEmailGuardStateStore inner, EmailGuard.Testing.Stores.SwitchableRateLimitStore store)
        : EmailGuard.Testing.Stores.ForwardingStateStore(inner)
    {
        public override async ValueTask<long> GetVersionAsync(CancellationToken cancellationToken)
        {
            // As ClearGatedStateStore: a clear reads the state's version before the flags it removes.
            string trace = Environment.StackTrace;
            long version = await Inner.GetVersionAsync(cancellationToken);
            if (trace.Contains("EmailGuardFlags", StringComparison.Ordinal) && trace.Contains("ClearAsync", StringComparison.Ordinal))
            {
                store.Down = true;
            }

            return version;
        }
    }

    /// <summary>The shared key-value store as instance b sees it: its first read or claim of a key that <paramref name="gates"/> waits at <paramref name="gate"/>.</summary>
    private sealed class GatedKeyValues(IEmailGuardKeyValueStore inner, Gate gate, Func<string, bool> gates) : IEmailGuardKeyValueStore
    {
        public async ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            await gate.PassAsync(gates(key));
            return await inner.GetAsync(key, cancellationToken);
        }

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
            => inner.SetAsync(key, value, timeToLive, cancellationToken);

        public async ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            await gate.PassAsync(gates(key));
            return await inner.GetOrAddAsync(key, value, timeToLive, cancellationToken);
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
            => inner.RemoveAsync(key, expectedValue, cancellationToken);
    }

    /// <summary>
    /// The shared store as instance b sees it: its first acquire or peek of requests that <paramref name="gates"/> goes
    /// through, then waits at <paramref name="gate"/>. Not an in-memory store, so the resilience wrapper takes its
    /// shared-store path, as over Redis.
    /// </summary>
    private sealed class GatedStore(IRateLimitStore inner, Gate gate, Func<ReadOnlyMemory<RateLimitRequest>, bool> gates) : ForwardingRateLimitStore(inner)
    {
        public override async ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            RateLimitDecision decision = await Next.AcquireAsync(requests, results, cancellationToken);
            await gate.PassAsync(gates(requests));
            return decision;
        }

        public override async ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            RateLimitDecision decision = await Next.PeekAsync(requests, results, cancellationToken);
            await gate.PassAsync(gates(requests));
            return decision;
        }
    }
}
