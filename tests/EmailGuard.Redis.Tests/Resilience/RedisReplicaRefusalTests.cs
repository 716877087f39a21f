using System.Diagnostics;
using System.Globalization;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Redis.Tests.Testing;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using static EmailGuard.Redis.Tests.Testing.RedisTestServerInfo;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Scripts and writes refused by a server that became a replica without the client noticing (<c>READONLY</c>): a
/// replica refuses every write, so a refused call wrote nothing, and it is sent again once the connection has looked
/// for the primary. A primary and its replica, two real <c>redis-server</c> processes, swap roles as a coordinated
/// failover does (the replica caught up, then promoted, the old primary made its replica); the app's client, which
/// knows both, still takes the old primary for the primary.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public sealed class RedisReplicaRefusalTests : IAsyncLifetime
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);

    /// <summary>A store timeout no search for the primary on a loaded machine comes near: the budget is half of it.</summary>
    private static readonly TimeSpan s_generousTimeout = TimeSpan.FromSeconds(30);

    private static readonly RateLimitRule s_wide = CenteredWindow.PerDay(1_000_000);
    private readonly List<ConnectionMultiplexer> _multiplexers = [];
    private RedisServerProcess? _first;
    private RedisServerProcess? _second;

    public async Task InitializeAsync()
    {
        string binary = RedisBinaries.Find("redis-server") ?? throw new InvalidOperationException("These tests start their own redis-server: install it on PATH.");
        _first = await RedisServerProcess.StartAsync(binary, [], s_bound);
        _second = await RedisServerProcess.StartAsync(binary, ["--replicaof", "127.0.0.1", _first.Port.ToString(CultureInfo.InvariantCulture)], s_bound);
        (await WaitUntilAsync(async () => (await InfoAsync(Admin(_second))).Contains("master_link_status:up", StringComparison.Ordinal)))
            .Should().BeTrue("the replica is in sync before the test");
    }

    public async Task DisposeAsync()
    {
        foreach (ConnectionMultiplexer multiplexer in _multiplexers)
        {
            await multiplexer.DisposeAsync();
        }

        _first?.Dispose();
        _second?.Dispose();
    }

    [Theory]
    [InlineData("list write")]
    [InlineData("list remove")]
    [InlineData("flag write")]
    [InlineData("flag event")]
    [InlineData("key-value write")]
    public async Task AWriteRefusedAsReadOnly_IsSentAgainOnceTheConnectionFoundThePrimary(string write)
    {
        // Arrange
        using RedisConnection connection = new(App(bothServers: true), RedisServerFixture.UniquePrefix());
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        Func<Task> act = Write(write, connection, time);
        await act();
        connection.PrimaryRefresh.Started.Should().Be(0, "the server was the primary");
        await SwapRolesAsync();
        IServer promoted = Admin(_second!);
        await promoted.ExecuteAsync("CONFIG", "RESETSTAT");

        // Act
        await act();

        // Assert
        connection.PrimaryRefresh.Started.Should().Be(1, $"the refused {write} made the connection look for the primary, once");
        long sent = 0;
        foreach (string command in new[] { "set", "setex", "eval", "evalsha", "lpush" })
        {
            sent += await CommandCallsAsync(promoted, command);
        }

        sent.Should().BeGreaterThan(0, "the write went again, to the new primary");
    }

    [Fact]
    public async Task AFullStateLoadAfterAFailover_PrunesOnTheNewPrimary_AndLoads()
    {
        // Arrange: a full load prunes expired entries and flags from their indexes before it reads them, two writes
        // the demoted primary refuses; an instance that lost the change chain in the failover loads whole.
        using RedisConnection connection = new(App(bothServers: true), RedisServerFixture.UniquePrefix());
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        RedisEmailGuardStateStore state = new(connection, time);
        await state.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None);
        await SwapRolesAsync();

        // Act
        EmailGuardStateData loaded = await state.LoadAsync(CancellationToken.None);

        // Assert
        loaded.ListEntries.Should().ContainSingle(e => e.Value == "a@example.org");
        connection.PrimaryRefresh.Started.Should().Be(1, "the refused prune made the connection look for the primary");
    }

    [Fact]
    public async Task AWriteRefusedAsReadOnly_WhoseCallerCancelledMeanwhile_IsNotSentAgain()
    {
        // Arrange: the write goes to the demoted primary, which holds it (CLIENT PAUSE WRITE); meanwhile the connection
        // finds the primary (another call's search) and the caller cancels. Then the old primary refuses the write.
        using RedisConnection connection = new(App(bothServers: true), RedisServerFixture.UniquePrefix());
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        RedisEmailGuardStateStore state = new(connection, time, s_generousTimeout);
        await state.UpsertListEntryAsync(Entry("before@example.org"), CancellationToken.None);
        await SwapRolesAsync();
        IServer oldPrimary = Admin(_first!);
        await oldPrimary.ExecuteAsync("CLIENT", "PAUSE", "10000", "WRITE");
        using CancellationTokenSource cancellation = new();
        Task write = state.UpsertListEntryAsync(Entry("cancelled@example.org"), cancellation.Token).AsTask();
        await connection.PrimaryRefresh.SearchedSince(connection.PrimarySearches, "READONLY (the test's search)");

        // Act
        await cancellation.CancelAsync();
        await oldPrimary.ExecuteAsync("CLIENT", "UNPAUSE");

        // Assert
        await write.Invoking(w => w).Should().ThrowAsync<OperationCanceledException>("a cancelled caller's refused write, which wrote nothing, is not sent again");
        EmailGuardStateData loaded = await state.LoadAsync(CancellationToken.None);
        loaded.ListEntries.Select(e => e.Value).Should().Equal(["before@example.org"], "nothing was written for the cancelled caller");
    }

    [Theory]
    [InlineData("list write")]
    [InlineData("key-value write")]
    public async Task AWriteRefusedAsReadOnly_WhenNoPrimaryIsFound_StillFails(string write)
    {
        // Arrange: the client knows only the server that becomes a replica, so no search finds a primary.
        ConfigurationOptions configuration = TestMultiplexers.Configuration(_first!.Endpoint);
        using RedisConnection connection = new(Connect(configuration), RedisServerFixture.UniquePrefix());
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        Func<Task> act = Write(write, connection, time);
        await act();
        await SwapRolesAsync();

        // Act and assert: on a frozen clock the budget never runs out; the bound on resends ends it.
        await act.Should().ThrowAsync<RedisException>();
        connection.PrimaryRefresh.Started.Should().BeInRange(1, 1 + RedisConnection.MaxReplicaResends);
        await connection.PrimaryRefresh.Refreshing;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task AnAcquireRefusedAsReadOnly_IsSentAgainToTheNewPrimary_AndCountedOnce(bool batchEveryAcquire, bool multiKey)
    {
        // Arrange: a single-key acquire (its own script, or a member of the batch script), or a multi-key one.
        string prefix = RedisServerFixture.UniquePrefix();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(
            App(bothServers: true), prefix, TimeProvider.System, batchEveryAcquire: batchEveryAcquire, maxQueueWait: s_generousTimeout);
        RateLimitRequest[] requests = multiKey ? [new("a", s_wide), new("b", s_wide)] : [new("a", s_wide)];
        (await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).Status.Should().Be(RateLimitStatus.Allowed);
        await SwapRolesAsync();

        // Act
        RateLimitDecision decision = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        // Assert
        decision.Status.Should().Be(RateLimitStatus.Allowed);
        store.Connection.PrimaryRefresh.Started.Should().Be(1);
        RateLimitEntry[] counted = new RateLimitEntry[requests.Length];
        RedisRateLimitStore reader = RedisStoreTestBase.CreateStore(Connect(TestMultiplexers.Configuration(_second!.Endpoint)), prefix, TimeProvider.System);
        await reader.PeekAsync(requests.Select(r => r with { Cost = 0 }).ToArray(), counted);
        counted.Should().OnlyContain(e => e.Count == 2, "the new primary counts the acquire before the failover and the one sent again, once");
    }

    [Fact]
    public async Task BatchMembersRefusedAsReadOnly_AreSentAgainInTheirOrder()
    {
        // Arrange: a denial that only reads runs on a replica as on a primary. It leads its lane while the acquires
        // behind it queue; once the server became a replica it answers, and the queued acquires go out in one batch
        // script, each member of which the old primary refuses as its own error.
        string prefix = RedisServerFixture.UniquePrefix();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(
            App(bothServers: true), prefix, TimeProvider.System, overLimitCacheMaxAge: TimeSpan.Zero, maxQueueWait: s_generousTimeout);
        RateLimitRule one = CenteredWindow.PerDay(1);
        RateLimitRule ordered = CenteredWindow.PerDay(5);
        (await store.AcquireAsync(new[] { new RateLimitRequest("full", one) }, Memory<RateLimitEntry>.Empty)).Status.Should().Be(RateLimitStatus.Allowed);
        await SwapRolesAsync();
        IServer oldPrimary = Admin(_first!);
        await oldPrimary.ExecuteAsync("CLIENT", "PAUSE", "10000", "WRITE");

        // Act
        Task<RateLimitDecision> leader = store.AcquireAsync(new[] { new RateLimitRequest("full", one), new RateLimitRequest("x", s_wide) }, Memory<RateLimitEntry>.Empty).AsTask();
        Task<RateLimitDecision>[] queued = [.. Enumerable.Range(0, 12).Select(i => store.AcquireAsync(
            new[] { new RateLimitRequest("ordered", ordered), new RateLimitRequest($"own-{i}", s_wide) }, Memory<RateLimitEntry>.Empty).AsTask())];
        await oldPrimary.ExecuteAsync("CLIENT", "UNPAUSE");
        RateLimitDecision led = await leader;
        RateLimitDecision[] decisions = await Task.WhenAll(queued);

        // Assert
        led.Status.Should().Be(RateLimitStatus.LimitExceeded, "a denial writes nothing, so the replica answers it");
        decisions.Select(d => d.Status).Should().Equal(
            [.. Enumerable.Range(0, 12).Select(i => i < 5 ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded)],
            "the refused members go again in the order they queued in");
        store.Batcher!.BatchesSent.Should().Be(2, "the queued acquires went as one batch, refused, and once more after the search");
        store.Connection.PrimaryRefresh.Started.Should().Be(1);
    }

    [Fact]
    public async Task BatchMembersRefusedAsReadOnly_InTwoBatchesInFlight_GoAgainInTheirOrder_AheadOfTheNextBatch()
    {
        // Arrange: as above, but 600 acquires queue behind the denial: when it answers, the lane sends a first batch
        // (256 members) and, while that one is in flight, a second (256), both to the old primary, which refuses
        // every member of both. The other 88 wait for a third batch. The shared counter has room for 300: the first
        // batch and the first 44 of the second, whatever the failover, since the refused members wrote nothing and
        // go again in the order they queued in, the second batch's before the third's.
        string prefix = RedisServerFixture.UniquePrefix();
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(
            App(bothServers: true), prefix, TimeProvider.System, overLimitCacheMaxAge: TimeSpan.Zero, maxQueueWait: s_generousTimeout);
        RedisScriptBatcher batcher = store.Batcher!;
        const int Queued = 600;
        const int Room = 300;
        RateLimitRule one = CenteredWindow.PerDay(1);
        RateLimitRule shared = CenteredWindow.PerDay(Room);
        (await store.AcquireAsync(new[] { new RateLimitRequest("full", one) }, Memory<RateLimitEntry>.Empty)).Status.Should().Be(RateLimitStatus.Allowed);
        await SwapRolesAsync();
        IServer oldPrimary = Admin(_first!);
        await oldPrimary.ExecuteAsync("CLIENT", "PAUSE", "20000", "WRITE");

        // Act
        Task<RateLimitDecision> leader = store.AcquireAsync(new[] { new RateLimitRequest("full", one), new RateLimitRequest("x", s_wide) }, Memory<RateLimitEntry>.Empty).AsTask();
        (await WaitUntilAsync(() => Task.FromResult(batcher.LaneCount == 1))).Should().BeTrue("the denial leads its lane");
        Task<RateLimitDecision>[] queued = [.. Enumerable.Range(0, Queued).Select(i => store.AcquireAsync(
            new[] { new RateLimitRequest("shared", shared), new RateLimitRequest($"own-{i}", s_wide) }, Memory<RateLimitEntry>.Empty).AsTask())];
        (await WaitUntilAsync(() => Task.FromResult(batcher.QueuedCount == Queued))).Should().BeTrue("the acquires queue behind the held denial");
        await oldPrimary.ExecuteAsync("CLIENT", "UNPAUSE");
        RateLimitDecision led = await leader.WaitAsync(s_bound);
        RateLimitDecision[] decisions = await Task.WhenAll(queued).WaitAsync(s_bound);

        // Assert
        led.Status.Should().Be(RateLimitStatus.LimitExceeded, "a denial writes nothing, so the replica answers it");
        int[] admittedOutOfOrder = [.. Enumerable.Range(0, Queued).Where(i => decisions[i].IsAllowed != i < Room)];
        admittedOutOfOrder.Should().BeEmpty("the first {0} acquires in arrival order are admitted, and only they", Room);
        store.Connection.PrimaryRefresh.Started.Should().Be(1);
        RedisRateLimitStore reader = RedisStoreTestBase.CreateStore(Connect(TestMultiplexers.Configuration(_second!.Endpoint)), prefix, TimeProvider.System);
        RateLimitEntry[] counted = new RateLimitEntry[1 + Queued];
        RateLimitRequest[] peeks = [new("shared", shared, Cost: 0), .. Enumerable.Range(0, Queued).Select(i => new RateLimitRequest($"own-{i}", s_wide, Cost: 0))];
        await reader.PeekAsync(peeks, counted);
        counted[0].Count.Should().Be(Room, "no refused member was counted twice, none lost");
        Enumerable.Range(0, Queued).Where(i => counted[1 + i].Count != (i < Room ? 1 : 0)).Should().BeEmpty("all or nothing per acquire");
    }

    [Fact]
    public async Task BatchMembersRefusedAsReadOnly_WhoseCallersCancelledWhileTheyWait_AreNotSentAgain()
    {
        // Arrange: the connection's clock is fake, so that the search the refused member waits for (a second after the
        // last one started) starts when the test moves it on.
        FakeTimeProvider connectionTime = new(DateTimeOffset.UtcNow);
        ConnectionMultiplexer multiplexer = App(bothServers: true);
        RedisRateLimitStoreOptions options = new()
        {
            KeyPrefix = RedisServerFixture.UniquePrefix(),
            ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer),
        };
        RedisRateLimitStore store = new(
            new RedisConnection(options, null, null, connectionTime), options, TimeProvider.System, null, s_generousTimeout, batchEveryAcquire: true);
        RateLimitRequest[] requests = [new("a", s_wide)];
        (await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).Status.Should().Be(RateLimitStatus.Allowed);
        await store.Connection.PrimaryRefresh.SearchedSince(store.Connection.PrimarySearches, "READONLY (the test's first search)");
        await SwapRolesAsync();
        using CancellationTokenSource cancellation = new();
        Task<RateLimitDecision> acquire = store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty, cancellation.Token).AsTask();
        (await WaitUntilAsync(() => Task.FromResult(store.Connection.PrimaryRefresh.Started == 2)))
            .Should().BeTrue("the refused member waits for a second search");

        // Act
        await cancellation.CancelAsync();
        await acquire.Invoking(a => a).Should().ThrowAsync<OperationCanceledException>();
        connectionTime.Advance(TimeSpan.FromSeconds(1));
        await store.Connection.PrimaryRefresh.Refreshing;
        await store.SettledAsync();

        // Assert
        store.Batcher!.BatchesSent.Should().Be(2, "the first acquire's batch and the refused one; the cancelled caller's member is not sent again");
        RateLimitEntry[] counted = new RateLimitEntry[1];
        RedisRateLimitStore reader = RedisStoreTestBase.CreateStore(
            Connect(TestMultiplexers.Configuration(_second!.Endpoint)), options.KeyPrefix, TimeProvider.System, useServerTime: options.UseServerTime);
        await reader.PeekAsync(new[] { new RateLimitRequest("a", s_wide, Cost: 0) }, counted);
        counted[0].Count.Should().Be(1, "the cancelled caller was never charged");
    }

    private static Func<Task> Write(string write, RedisConnection connection, FakeTimeProvider time)
    {
        RedisEmailGuardStateStore state = new(connection, time);
        RedisKeyValueStore values = new(connection, time);
        return write switch
        {
            "list write" => async () => await state.UpsertListEntryAsync(Entry("a@example.org"), CancellationToken.None),
            "list remove" => async () => await state.RemoveListEntryAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "a@example.org", CancellationToken.None),
            "flag write" => async () => await state.UpsertFlagAsync(
                new EmailGuardFlag { PartyType = EmailGuardPartyType.Tenant, PartyId = "acme", Reason = "bounces", CreatedAt = time.GetUtcNow(), ExpiresAt = time.GetUtcNow().AddHours(1), Suspend = true },
                CancellationToken.None),
            "flag event" => async () => await state.AppendFlagEventAsync(
                new EmailGuardFlagEvent { Kind = EmailGuardFlagEventKind.Flagged, PartyType = EmailGuardPartyType.Tenant, PartyId = "acme", Reason = "bounces", CreatedAt = time.GetUtcNow() },
                CancellationToken.None),
            _ => async () => await values.SetAsync("k", "v", TimeSpan.FromMinutes(1)),
        };
    }

    /// <summary>
    /// A coordinated failover the app's client does not see: the replica catches up, is promoted, and the old primary
    /// becomes its replica, in sync again before the test goes on.
    /// </summary>
    private async Task SwapRolesAsync()
    {
        IServer oldPrimary = Admin(_first!);
        IServer promoted = Admin(_second!);
        (await WaitUntilAsync(async () => Offset(await InfoAsync(promoted), "slave_repl_offset:") >= Offset(await InfoAsync(oldPrimary), "master_repl_offset:")))
            .Should().BeTrue("the replica catches up");
        await promoted.ExecuteAsync("REPLICAOF", "NO", "ONE");
        await oldPrimary.ExecuteAsync("REPLICAOF", "127.0.0.1", _second!.Port.ToString(CultureInfo.InvariantCulture));
        (await WaitUntilAsync(async () => (await InfoAsync(oldPrimary)).Contains("master_link_status:up", StringComparison.Ordinal)))
            .Should().BeTrue("the old primary follows the new one");
    }

    /// <summary>The app's multiplexer: both servers, so that a search finds whichever is the primary; or the first alone.</summary>
    private ConnectionMultiplexer App(bool bothServers)
        => Connect(TestMultiplexers.Configuration(bothServers ? $"{_first!.Endpoint},{_second!.Endpoint}" : _first!.Endpoint));

    private ConnectionMultiplexer Connect(ConfigurationOptions configuration)
    {
        ConnectionMultiplexer multiplexer = ConnectionMultiplexer.Connect(configuration);
        _multiplexers.Add(multiplexer);
        return multiplexer;
    }

    /// <summary>An admin connection to one server alone.</summary>
    private IServer Admin(RedisServerProcess server) => Connect(TestMultiplexers.Configuration(server.Endpoint)).GetServer(server.Endpoint);

    private static EmailGuardListEntry Entry(string value) => new()
    {
        Kind = EmailGuardListKind.Blocklist,
        PartyType = EmailGuardPartyType.Recipient,
        Value = value,
        Reason = "hard_bounce",
        CreatedAt = DateTimeOffset.UtcNow,
    };

    private static Task<bool> WaitUntilAsync(Func<Task<bool>> condition) => RedisTestServerInfo.WaitUntilAsync(condition, s_bound, TimeSpan.FromMilliseconds(20));
}
