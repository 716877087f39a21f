using System.Globalization;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using static EmailGuard.Redis.Tests.Testing.RedisTestServerInfo;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Acquires of high-value limits that wait for replicas (<see cref="RedisRateLimitStoreOptions.WaitForReplicas"/>), and
/// flag and list writes that do (<see cref="RedisRateLimitStoreOptions.StateWaitForReplicas"/>), send their <c>WAIT</c>
/// over a connection of their own. Redis blocks the client connection a <c>WAIT</c> is sent on, so on
/// the connection every acquire shares, one acquire waiting for a paused replica held the instance's other acquires
/// behind it for up to the timeout. Two real <c>redis-server</c> processes: a primary and its replica, which the tests
/// pause (<c>SIGSTOP</c>) and always resume.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisReplicaWaitConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);

    /// <summary>The longest the option allows: a WAIT that ends before the replica is resumed can only be its timeout.</summary>
    private static readonly TimeSpan s_waitTimeout = TimeSpan.FromSeconds(10);

    private static readonly RateLimitRule s_highValue = CenteredWindow.PerDay(10);
    private static readonly RateLimitRule s_ordinary = CenteredWindow.PerDay(1_000_000);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<ConnectionMultiplexer> _admins = [];
    private RedisServerProcess? _primary;
    private RedisServerProcess? _replica;

    public async Task InitializeAsync()
    {
        string binary = RedisBinaries.Find("redis-server") ?? throw new InvalidOperationException("These tests start their own redis-server: install it on PATH.");
        _primary = await RedisServerProcess.StartAsync(binary, [], s_bound);
        _replica = await RedisServerProcess.StartAsync(binary, ["--replicaof", "127.0.0.1", _primary.Port.ToString(CultureInfo.InvariantCulture)], s_bound);
        (await WaitUntilAsync(async () => (await InfoAsync(Admin(_replica.Endpoint), "replication")).Contains("master_link_status:up", StringComparison.Ordinal), s_bound, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the replica is in sync before the test");
    }

    public async Task DisposeAsync()
    {
        foreach (ConnectionMultiplexer admin in _admins)
        {
            await admin.DisposeAsync();
        }

        _replica?.Resume();
        _replica?.Dispose();
        _primary?.Dispose();
    }

    [Fact]
    public async Task HighValueAcquire_WaitsForAPausedReplica_OrdinaryAcquiresOfTheSameStoreCompleteMeanwhile()
    {
        // Arrange: one store, its connections made while the replica is healthy.
        RedisRateLimitStoreOptions options = Options(TestMultiplexers.Configuration(_primary!.Endpoint));
        await using RedisConnection connection = new(options, null, null);
        RedisRateLimitStore store = new(connection, options, TimeProvider.System);
        (await store.AcquireAsync(new RateLimitRequest[] { new("ordinary-warm", s_ordinary) }, default)).IsAllowed.Should().BeTrue();
        (await store.AcquireAsync(new RateLimitRequest[] { new("valuable", s_highValue) }, default)).IsAllowed.Should().BeTrue();
        IServer primary = Admin(_primary.Endpoint);

        _replica!.Pause();
        try
        {
            // Act: the high-value acquire's WAIT blocks on the primary until the replica answers; meanwhile ordinary
            // acquires of the same store, single counters (coalesced) and several counters (one script each).
            Task<RateLimitDecision> valuable = store.AcquireAsync(new RateLimitRequest[] { new("valuable", s_highValue) }, default).AsTask();
            RateLimitDecision[] ordinary = await OrdinaryAcquiresOnceAWaitBlocksAsync(store, primary, "the high-value acquire's WAIT blocks on the primary while the replica is paused");

            // Assert: every ordinary acquire was answered while the WAIT still blocked; the WAIT ends only once the replica runs again.
            ordinary.Should().OnlyContain(d => d.IsAllowed);
            BlockedClients(await InfoAsync(primary, "clients")).Should().Be(1, "the ordinary acquires did not queue behind the WAIT: it is still waiting for the paused replica");
            valuable.IsCompleted.Should().BeFalse("the high-value acquire is answered only once its replica acknowledged it");

            _replica.Resume();
            RateLimitDecision decision = await valuable.WaitAsync(s_bound);
            decision.IsAllowed.Should().BeTrue("the resumed replica acknowledged it");
            RateLimitEntry[] entries = new RateLimitEntry[1];
            await store.PeekAsync(new RateLimitRequest[] { new("valuable", s_highValue, 0) }, entries);
            entries[0].Count.Should().Be(2, "the warm-up and this acquire, each counted once");
        }
        finally
        {
            _replica.Resume();
        }
    }

    /// <summary>
    /// Waits until a <c>WAIT</c> blocks on the primary, then makes 32 ordinary acquires of <paramref name="store"/> at
    /// once, single counters (coalesced) and pairs (one script each), and answers their decisions.
    /// </summary>
    private static async Task<RateLimitDecision[]> OrdinaryAcquiresOnceAWaitBlocksAsync(RedisRateLimitStore store, IServer primary, string blocking)
    {
        (await WaitUntilAsync(async () => BlockedClients(await InfoAsync(primary, "clients")) == 1, s_bound, TimeSpan.FromMilliseconds(10)))
            .Should().BeTrue(blocking);
        return await Task.WhenAll(Enumerable.Range(0, 32).Select(i => store.AcquireAsync(
            i % 2 == 0
                ? [new RateLimitRequest($"ordinary-{i}", s_ordinary)]
                : [new RateLimitRequest($"ordinary-{i}", s_ordinary), new RateLimitRequest("ordinary-shared", s_ordinary)],
            default).AsTask()));
    }

    [Fact]
    public async Task ListWrite_WaitsForAPausedReplica_AcquiresOfTheSameInstanceCompleteMeanwhile()
    {
        // Arrange: the state store and the rate-limit store share one connection, as in an app; acquires wait for no replica.
        RedisRateLimitStoreOptions options = Options(TestMultiplexers.Configuration(_primary!.Endpoint));
        options.WaitForReplicas = 0;
        options.StateWaitForReplicas = 1;
        options.StateWaitForReplicasTimeout = s_waitTimeout;
        await using RedisConnection connection = new(options, null, null);
        RedisRateLimitStore store = new(connection, options, TimeProvider.System);
        RedisEmailGuardStateStore state = new(connection, TimeProvider.System, TimeSpan.FromSeconds(30), options);
        (await store.AcquireAsync(new RateLimitRequest[] { new("ordinary-warm", s_ordinary) }, default)).IsAllowed.Should().BeTrue();
        await state.UpsertListEntryAsync(Suppression("warm@example.com"), CancellationToken.None);
        IServer primary = Admin(_primary.Endpoint);

        _replica!.Pause();
        try
        {
            // Act: a suppression's WAIT blocks on the primary until the replica answers; meanwhile ordinary acquires.
            Task written = state.UpsertListEntryAsync(Suppression("bounced@example.com"), CancellationToken.None).AsTask();
            RateLimitDecision[] ordinary = await OrdinaryAcquiresOnceAWaitBlocksAsync(store, primary, "the write's WAIT blocks on the primary while the replica is paused");

            // Assert
            ordinary.Should().OnlyContain(d => d.IsAllowed);
            BlockedClients(await InfoAsync(primary, "clients")).Should().Be(1, "the acquires did not queue behind the write's WAIT: it is still waiting for the paused replica");
            written.IsCompleted.Should().BeFalse("the write is answered once its replica acknowledged it");

            _replica.Resume();
            await written.WaitAsync(s_bound);
            (await state.LoadAsync(CancellationToken.None)).ListEntries.Should().HaveCount(2);
        }
        finally
        {
            _replica.Resume();
        }
    }

    [Fact]
    public async Task HighValueAcquires_ManyConcurrentCallersBesideOrdinaryOnes_AdmitExactlyTheLimit_EachAcknowledged()
    {
        // Arrange
        const int Callers = 48;
        RedisRateLimitStoreOptions options = Options(TestMultiplexers.Configuration(_primary!.Endpoint));
        await using RedisConnection connection = new(options, null, null);
        RedisRateLimitStore store = new(connection, options, TimeProvider.System);
        RateLimitRule rule = CenteredWindow.PerDay(20);
        IServer primary = Admin(_primary.Endpoint);
        long waitsBefore = await CommandCallsAsync(primary, "wait");

        // Act: high-value acquires of one counter, and of that counter with a second one, beside ordinary acquires.
        Task<RateLimitDecision>[] valuable = [.. Enumerable.Range(0, Callers).Select(i => store.AcquireAsync(
            i % 3 == 0 ? [new RateLimitRequest("exact", rule), new RateLimitRequest($"other-{i}", s_ordinary)] : [new RateLimitRequest("exact", rule)],
            default).AsTask())];
        Task<RateLimitDecision>[] ordinary = [.. Enumerable.Range(0, Callers).Select(i => store.AcquireAsync(
            new RateLimitRequest[] { new($"plain-{i % 4}", s_ordinary) }, default).AsTask())];
        RateLimitDecision[] decisions = await Task.WhenAll(valuable);
        await Task.WhenAll(ordinary);

        // Assert
        decisions.Count(d => d.IsAllowed).Should().Be(20);
        RateLimitEntry[] entries = new RateLimitEntry[1];
        await store.PeekAsync(new RateLimitRequest[] { new("exact", rule, 0) }, entries);
        entries[0].Count.Should().Be(20);
        (await CommandCallsAsync(primary, "wait") - waitsBefore).Should().Be(20, "each admitted high-value acquire waited for its replica, and nothing else did");
    }

    [Fact]
    public async Task SuppliedMultiplexer_CannotBeCopied_WaitSharesIt_SaidOnceAtStartup()
    {
        // Arrange
        await using ConnectionMultiplexer supplied = await ConnectionMultiplexer.ConnectAsync(TestMultiplexers.Configuration(_primary!.Endpoint));
        RedisRateLimitStoreOptions suppliedOptions = Options(null);
        suppliedOptions.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(supplied);
        RedisRateLimitStoreOptions namedOptions = Options(TestMultiplexers.Configuration(_primary.Endpoint));
        FakeLogger<RedisRateLimitStore> logger = new();

        // Act
        await using RedisConnection suppliedConnection = new(suppliedOptions, null, null);
        await using RedisConnection namedConnection = new(namedOptions, null, null);
        RedisRateLimitStore onSupplied = new(suppliedConnection, suppliedOptions, TimeProvider.System, logger);
        RedisRateLimitStore onNamed = new(namedConnection, namedOptions, TimeProvider.System, logger);
        RateLimitDecision acquired = await onSupplied.AcquireAsync(new RateLimitRequest[] { new("supplied", s_highValue) }, default);

        // Assert
        acquired.IsAllowed.Should().BeTrue("the acquire still waits for its replica, over the supplied connection");
        suppliedConnection.ReplicaWaitConnection.Should().BeSameAs(suppliedConnection);
        namedConnection.ReplicaWaitConnection.Should().NotBeSameAs(namedConnection);
        FakeLogRecord warning = logger.Collector.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3039).Subject;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Message.Should().Contain("ConnectionMultiplexerFactory").And.Contain("EmailGuard:Redis:Configuration");
        _ = onNamed;
    }

    [Fact]
    public async Task ReplicaWaitConnection_IsMadeOnFirstUse_AndDisposedWithTheConnection()
    {
        // Arrange
        RedisRateLimitStoreOptions options = Options(TestMultiplexers.Configuration(_primary!.Endpoint));
        RedisConnection connection = new(options, null, null);
        RedisRateLimitStore store = new(connection, options, TimeProvider.System);
        RedisConnection dedicated = connection.ReplicaWaitConnection;
        dedicated.ConnectedMultiplexer.Should().BeNull("nothing connects before an acquire waits for replicas");
        (await store.AcquireAsync(new RateLimitRequest[] { new("ordinary", s_ordinary) }, default)).IsAllowed.Should().BeTrue();
        dedicated.ConnectedMultiplexer.Should().BeNull("an ordinary acquire does not use it");
        (await store.AcquireAsync(new RateLimitRequest[] { new("valuable", s_highValue) }, default)).IsAllowed.Should().BeTrue();
        IConnectionMultiplexer multiplexer = dedicated.ConnectedMultiplexer!;
        multiplexer.IsConnected.Should().BeTrue();

        // Act
        await connection.DisposeAsync();

        // Assert
        multiplexer.IsConnected.Should().BeFalse();
    }

    private RedisRateLimitStoreOptions Options(ConfigurationOptions? configuration) => new()
    {
        KeyPrefix = _prefix,
        ConfigurationOptions = configuration,
        WaitForReplicas = 1,
        WaitForReplicasMaxLimit = 100,
        WaitForReplicasTimeout = s_waitTimeout,
    };

    private static EmailGuardListEntry Suppression(string address) => new()
    {
        Kind = EmailGuardListKind.Blocklist,
        PartyType = EmailGuardPartyType.Recipient,
        Value = address,
        Reason = EmailFeedbackSuppressionReasons.HardBounce,
        CreatedBy = "test",
        CreatedAt = TimeProvider.System.GetUtcNow(),
    };

    private static long BlockedClients(string clientsInfo)
        => long.Parse(
            clientsInfo.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal))["blocked_clients:".Length..],
            CultureInfo.InvariantCulture);

    /// <summary>An admin connection to one server alone.</summary>
    private IServer Admin(string endpoint)
    {
        ConnectionMultiplexer admin = ConnectionMultiplexer.Connect(TestMultiplexers.Configuration(endpoint));
        _admins.Add(admin);
        return admin.GetServer(admin.GetEndPoints()[0]);
    }
}
