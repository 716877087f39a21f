using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using EmailGuard.Redis.Tests.Testing;
using EmailGuard.Testing;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using static EmailGuard.Redis.Tests.Testing.RedisTestServerInfo;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// A suspension written to a primary whose replica lags, then the primary dies and the replica is promoted: what a
/// failover forgets (docs/redis.md). Two real <c>redis-server</c> processes; the replica reaches its primary through a
/// proxy that holds the replication stream, so the replica lags by exactly the writes the test makes while its link
/// stays up, and a frozen primary (<c>SIGSTOP</c>) can send it nothing more.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisStateReplicationTests(RedisServerFixture standalone) : IAsyncLifetime
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);

    /// <summary>A store timeout nothing here comes near, so that only the wait for replicas can end a write's wait.</summary>
    private static readonly TimeSpan s_generousTimeout = TimeSpan.FromSeconds(30);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<ConnectionMultiplexer> _admins = [];
    private readonly List<RedisAppInstance> _apps = [];
    private RedisServerProcess? _primary;
    private RedisServerProcess? _replica;
    private DelayingRedisProxy? _link;

    public async Task InitializeAsync()
    {
        string binary = RedisBinaries.Find("redis-server") ?? throw new InvalidOperationException("These tests start their own redis-server: install it on PATH.");
        _primary = await RedisServerProcess.StartAsync(binary, [], s_bound);
        _link = DelayingRedisProxy.Start(_primary);
        _replica = await RedisServerProcess.StartAsync(binary, ["--replicaof", "127.0.0.1", _link.Port.ToString(CultureInfo.InvariantCulture)], s_bound);
        (await WaitUntilAsync(async () => (await InfoAsync(Admin(_replica), "replication")).Contains("master_link_status:up", StringComparison.Ordinal)))
            .Should().BeTrue("the replica is in sync before the test");
    }

    public async Task DisposeAsync()
    {
        foreach (RedisAppInstance app in _apps)
        {
            await app.DisposeAsync();
        }

        foreach (ConnectionMultiplexer admin in _admins)
        {
            await admin.DisposeAsync();
        }

        if (_link is not null)
        {
            await _link.DisposeAsync();
        }

        _primary?.Dispose();
        _replica?.Dispose();
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(0, false)]
    public async Task Suspension_WrittenWhileTheReplicaLags_SurvivesThePrimarysDeath_OnlyWhenItWaitedForTheReplica(int waitForReplicas, bool survives)
    {
        // Arrange: the replication stream is held from now on; it is let through only once a write waits for the
        // replica (a WAIT blocks its client on the primary), which is what the option does.
        RedisAppInstance app = App($"{_primary!.Endpoint},{_replica!.Endpoint}", waitForReplicas, TimeSpan.FromSeconds(10));
        IEmailGuardFlags flags = app.Services.GetRequiredService<IEmailGuardFlags>();
        _ = await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial");
        _link!.HoldReplies();
        using CancellationTokenSource stopReleasing = new();
        Task<bool> releasing = ReleaseTheLinkWhenAWriteWaitsAsync(stopReleasing.Token);

        // Act: the caller is told the suspension is written; then the primary freezes, the replica's link is cut (what
        // it had not received is gone), the replica is promoted and the primary killed.
        EmailGuardFlag flag = await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        await stopReleasing.CancelAsync();
        bool released = await releasing;
        await FailOverToTheReplicaAsync();

        // Assert
        IReadOnlyList<EmailGuardFlag> afterFailover = await ActiveFlagsOnTheReplicaAsync("trial");
        if (survives)
        {
            afterFailover.Should().ContainSingle().Which.Should().BeEquivalentTo(flag, "the caller heard of the suspension only once the replica had it");
        }
        else
        {
            afterFailover.Should().BeEmpty("without the wait the caller heard of it while the replica lagged: the failover forgot it (the loss this option prevents)");
        }

        released.Should().Be(survives, "only a write that waits for its replica blocks on the primary");
    }

    [Fact]
    public async Task FlagWrite_ReplicaDoesNotAcknowledgeInTime_TheWriteStandsOnThePrimary_ReportedOnceInTheLog_EachInTheMetric()
    {
        // Arrange: the replica lags for the whole test.
        RedisAppInstance app = App($"{_primary!.Endpoint},{_replica!.Endpoint}", 1, TimeSpan.FromMilliseconds(200));
        using MetricCollector<long> replication = Replication(app);
        IEmailGuardFlags flags = app.Services.GetRequiredService<IEmailGuardFlags>();
        _ = await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial");
        _link!.HoldReplies();

        // Act
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        await flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));

        // Assert: in force on the primary, the caller not failed, the risk said once and counted twice.
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial")).Should().ContainSingle();
        IReadOnlyList<FakeLogRecord> logged = [.. app.Services.GetRequiredService<FakeLogCollector>().GetSnapshot().Where(r => r.Id.Id is 3007 or 3008)];
        logged.Should().ContainSingle().Which.Id.Id.Should().Be(3007);
        logged[0].Level.Should().Be(LogLevel.Warning);
        logged[0].Message.Should().Contain("0 of the 1 replica(s) required").And.Contain("1 connected");
        replication.GetMeasurementSnapshot().Where(m => m.Tags["emailguard.outcome"] as string == "not_acknowledged").Sum(m => m.Value).Should().Be(2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ListWrites_ReplicaLags_OneWaitHoldsTheConnection_TheWritesAfterItSendNoneForTheBackoff(bool sideBySide)
    {
        // Arrange: the replica lags for the whole test, as in a bounce storm's suppressions. The app's timestamps stand
        // still while it writes, so the backoff the first write starts lasts however long the ten take: on the system's
        // clock a loaded machine that took its 5 s for the nine after the first would see a second WAIT.
        StoppingClock clock = new();
        RedisAppInstance app = App($"{_primary!.Endpoint},{_replica!.Endpoint}", 1, TimeSpan.FromMilliseconds(200), clock);
        using MetricCollector<long> replication = Replication(app);
        IEmailGuardLists lists = app.Services.GetRequiredService<IEmailGuardLists>();
        _ = await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.Recipient });
        IServer primary = Admin(_primary.Endpoint);
        long waitsBefore = CommandCalls(await InfoAsync(primary, "commandstats"), "wait");
        _link!.HoldReplies();
        Task Suppress(int i) => lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"bounced{i}@example.com", "bounce", TimeSpan.FromHours(1)).AsTask();

        // Act: ten suppressions, one after another well inside the backoff, or side by side, none waiting for another.
        clock.Stopped = true;
        if (sideBySide)
        {
            await Task.WhenAll(Enumerable.Range(0, 10).Select(Suppress));
        }
        else
        {
            for (int i = 0; i < 10; i++)
            {
                await Suppress(i);
            }
        }

        clock.Stopped = false;

        // Assert: one WAIT held the connection; its timeout started the backoff for the nine others, which wrote
        // without one and are counted as unconfirmed.
        CommandCalls(await InfoAsync(primary, "commandstats"), "wait").Should().Be(waitsBefore + 1);
        replication.GetMeasurementSnapshot().Where(m => m.Tags["emailguard.outcome"] as string == "not_acknowledged").Sum(m => m.Value).Should().Be(10);
        (await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.Recipient })).TotalCount.Should().Be(10);
    }

    [Fact]
    public async Task ListWrite_NoTimeLeftForItsWait_SendsNone_AndTheWritesAfterItStillWait()
    {
        // Arrange: the replica is in sync; the clock jumps a minute at every reading while armed, so the first write's
        // call has used more than its bound by the time it would send its WAIT (and a backoff it started would last
        // for minutes once the clock is back).
        JumpingClock clock = new();
        RedisAppInstance app = App($"{_primary!.Endpoint},{_replica!.Endpoint}", 1, TimeSpan.FromSeconds(10), clock);
        using MetricCollector<long> replication = Replication(app);
        IEmailGuardLists lists = app.Services.GetRequiredService<IEmailGuardLists>();
        _ = await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.Recipient });
        IServer primary = Admin(_primary.Endpoint);
        long waitsBefore = CommandCalls(await InfoAsync(primary, "commandstats"), "wait");

        // Act
        clock.Jumping = true;
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "late@example.com", "bounce", TimeSpan.FromHours(1));
        clock.Jumping = false;
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "next@example.com", "bounce", TimeSpan.FromHours(1));

        // Assert: the late write sent no WAIT and says so; it learnt nothing of the replicas, so the next write waits
        // for them as usual (it skipped its WAIT as unconfirmed when the late one started the backoff).
        CommandCalls(await InfoAsync(primary, "commandstats"), "wait").Should().Be(waitsBefore + 1);
        IReadOnlyList<CollectedMeasurement<long>> outcomes = replication.GetMeasurementSnapshot();
        outcomes.Where(m => m.Tags["emailguard.outcome"] as string == "not_acknowledged").Sum(m => m.Value).Should().Be(1);
        outcomes.Where(m => m.Tags["emailguard.outcome"] as string == "acknowledged").Sum(m => m.Value).Should().Be(1);
    }

    [Fact]
    public async Task FlagWrite_RedisWithoutReplicas_NeverWaits_SaysSoOnceAtInformation()
    {
        // Arrange: the fault collection's own standalone server.
        RedisAppInstance app = App(standalone.ConnectionString, 1, TimeSpan.FromSeconds(10));
        using MetricCollector<long> replication = Replication(app);
        IEmailGuardFlags flags = app.Services.GetRequiredService<IEmailGuardFlags>();
        IServer server = Admin(standalone.ConnectionString);
        long waitsBefore = CommandCalls(await InfoAsync(server, "commandstats"), "wait");

        // Act
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        await flags.ClearAsync(EmailGuardPartyType.Tenant, "trial");

        // Assert
        CommandCalls(await InfoAsync(server, "commandstats"), "wait").Should().Be(waitsBefore, "a primary with no replica connected has none to wait for");
        app.Services.GetRequiredService<FakeLogCollector>().GetSnapshot().Where(r => r.Id.Id is 3007 or 3008).Should().ContainSingle()
            .Which.Level.Should().Be(LogLevel.Information);
        replication.GetMeasurementSnapshot().Where(m => m.Tags["emailguard.outcome"] as string == "no_replica").Sum(m => m.Value).Should().Be(2);
    }

    private RedisAppInstance App(string endpoints, int waitForReplicas, TimeSpan waitTimeout, TimeProvider? clock = null)
    {
        RedisAppInstance app = RedisAppInstance.Create(
            TestMultiplexers.Configuration(endpoints),
            _prefix,
            o => o.Timeout = s_generousTimeout,
            services =>
            {
                services.AddSingleton<IMeterFactory, TestMeterFactory>().AddLogging(b => b.AddFakeLogging());
                if (clock is not null)
                {
                    services.AddSingleton(clock);
                }

                services.AddEmailGuard().AddSendGuard();
            },
            o =>
            {
                o.StateWaitForReplicas = waitForReplicas;
                o.StateWaitForReplicasTimeout = waitTimeout;
            });
        _apps.Add(app);
        return app;
    }

    /// <summary>The app's replication outcomes: its own meter factory's, not another test's.</summary>
    private static MetricCollector<long> Replication(RedisAppInstance app)
        => new(app.Services.GetRequiredService<IMeterFactory>(), EmailGuardDiagnostics.MeterName, RedisEmailGuardStateStore.StateReplicationInstrument);

    /// <summary>Lets the replication stream through once a client is blocked on the primary; true when it did.</summary>
    private async Task<bool> ReleaseTheLinkWhenAWriteWaitsAsync(CancellationToken cancellationToken)
    {
        IServer primary = Admin(_primary!.Endpoint);
        try
        {
            while (!(await InfoAsync(primary, "clients")).Contains("blocked_clients:1", StringComparison.Ordinal))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        _link!.ReleaseReplies();
        return true;
    }

    /// <summary>
    /// The primary dies with what it did not send: frozen first, so it can send nothing more; the replica's link cut,
    /// dropping what the proxy held; the replica promoted; the primary killed.
    /// </summary>
    private async Task FailOverToTheReplicaAsync()
    {
        _primary!.Pause();
        await _link!.DisposeAsync();
        _link = null;
        await Admin(_replica!.Endpoint).ExecuteAsync("REPLICAOF", "NO", "ONE");
        _primary.Stop();
    }

    /// <summary>The party's active flags as a new app instance reads them from the promoted replica.</summary>
    private async Task<IReadOnlyList<EmailGuardFlag>> ActiveFlagsOnTheReplicaAsync(string tenant)
    {
        RedisAppInstance reader = App(_replica!.Endpoint, 0, TimeSpan.FromSeconds(1));
        return await reader.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, tenant);
    }

    /// <summary>An admin connection to one server alone.</summary>
    private IServer Admin(string endpoint)
    {
        ConnectionMultiplexer admin = ConnectionMultiplexer.Connect(TestMultiplexers.Configuration(endpoint));
        _admins.Add(admin);
        return admin.GetServer(admin.GetEndPoints()[0]);
    }

    private IServer Admin(RedisServerProcess server) => Admin(server.Endpoint);

    /// <summary>
    /// The system's clock, whose timestamps jump a minute further at every reading while <see cref="Jumping"/>, and
    /// are the system's again after: whatever was timed from a jumped reading (a backoff) lies far ahead once it stops.
    /// </summary>
    private sealed class JumpingClock : TimeProvider
    {
        private long _offset;

        public bool Jumping { get; set; }

        public override long GetTimestamp() => base.GetTimestamp() + (Jumping ? Interlocked.Add(ref _offset, 60 * TimestampFrequency) : 0);
    }

    /// <summary>
    /// The system's clock, whose timestamps stand still while <see cref="Stopped"/> (at the reading taken when it
    /// stopped), and are the system's again after: whatever is timed from them meanwhile (a backoff) does not run out.
    /// Timers are the system's.
    /// </summary>
    private sealed class StoppingClock : TimeProvider
    {
        private long _stoppedAt;

        public bool Stopped
        {
            get => Interlocked.Read(ref _stoppedAt) != 0;
            set => Interlocked.Exchange(ref _stoppedAt, value ? base.GetTimestamp() : 0);
        }

        public override long GetTimestamp() => Interlocked.Read(ref _stoppedAt) is var at and not 0 ? at : base.GetTimestamp();
    }

    private static Task<bool> WaitUntilAsync(Func<Task<bool>> condition) => RedisTestServerInfo.WaitUntilAsync(condition, s_bound, TimeSpan.FromMilliseconds(50));
}
