using EmailGuard.Redis.Tests.Testing;
using EmailGuard.Testing.Redis;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Concurrent single-key acquires of one counter are coalesced into one script per round trip. The server is paused
/// while the callers arrive (Redis with <c>CLIENT PAUSE</c>; Garnet, which lacks it, frozen with <c>SIGSTOP</c>), so
/// they pile up behind the first one; the decisions must be those of the same acquires made one after another. A test
/// process that stalls for longer than the pause lets the server answer before they have piled up: each test checks
/// that its callers arrived while the server was still paused, and runs again when they did not
/// (<see cref="PausedScenario"/>).
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisRateLimitStoreCoalescingTests(RedisServerFixture redis, ITestOutputHelper output) : RedisStoreTestBase(redis)
{
    private const int Callers = 40;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public Task AcquireAsync_CallersPiledUpOnOneKey_OneScriptPerRoundTrip_AndExactlyTheLimitAdmitted(bool useServerTime)
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        RedisRateLimitStore store = PatientStore(scenario, useServerTime);
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromDays(300));
        RateLimitRequest[] request = [new("flood", rule)];
        (await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        IServer server = Admin.GetServers()[0];
        long before = await EvalShaCallsAsync(server);

        (RateLimitDecision Decision, RateLimitEntry Entry)[] outcomes = await AcquireWhilePausedAsync(scenario, store, _ => request);
        long scripts = await EvalShaCallsAsync(server) - before;

        output.WriteLine($"{Callers} acquires, {scripts} script calls");
        scenario.AssertPremiseOrRunAgain();
        scripts.Should().BeGreaterThan(0, "the server counts EVALSHA calls (Garnet needs --commandstats-monitor)")
            .And.BeLessThan(Callers / 4, "callers that arrive while a script for their key is in flight share the next one");
        outcomes.Count(o => o.Decision.IsAllowed).Should().Be(9, "one permit was taken before");
        outcomes.Where(o => o.Decision.IsAllowed).Select(o => o.Entry.Count).Should().BeEquivalentTo(Enumerable.Range(2, 9).Select(i => (long)i),
            "each admitted acquire reports the count as if it had been alone, one after another");
        outcomes.Where(o => !o.Decision.IsAllowed).Should().OnlyContain(
            o => o.Entry.Count == 10 && o.Decision.RetryAfter > TimeSpan.Zero && o.Decision.RetryAfter <= rule.Window);
        outcomes.Select(o => o.Entry.ResetAt).Distinct().Should().ContainSingle();
        (await PeekCountAsync(store, request)).Should().Be(10);
        store.LaneCount.Should().Be(0, "a lane lives only while an acquire of its key is in flight");
    });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public Task AcquireAsync_CoalescedCostsAndReducedLimits_EachAnsweredByTheRuleTheScriptApplied(bool useServerTime)
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // A reduced limit (a flagged user) shares the normal rule's counter; costs differ. Whatever order the lane
        // took them in, every admitted acquire fit its own limit, every denied one did not, and the counter holds
        // exactly what was admitted.
        RedisRateLimitStore store = PatientStore(scenario, useServerTime);
        RateLimitRule normal = RateLimitRule.FixedWindow(20, TimeSpan.FromDays(300));
        RateLimitRule reduced = RateLimitRule.FixedWindow(8, TimeSpan.FromDays(300));
        RateLimitRequest[] Request(int i) => [new("mixed", i % 3 == 0 ? reduced : normal, 1 + (i % 3))];

        (RateLimitDecision Decision, RateLimitEntry Entry)[] outcomes = await AcquireWhilePausedAsync(scenario, store, Request);
        scenario.AssertPremiseOrRunAgain();

        long admitted = 0;
        for (int i = 0; i < outcomes.Length; i++)
        {
            RateLimitRequest asked = Request(i)[0];
            RateLimitEntry entry = outcomes[i].Entry;
            if (outcomes[i].Decision.IsAllowed)
            {
                admitted += asked.Cost;
                entry.Count.Should().BeLessThanOrEqualTo(asked.Rule.Limit);
            }
            else
            {
                (entry.Count + asked.Cost).Should().BeGreaterThan(asked.Rule.Limit, "a denied acquire did not fit");
            }
        }

        admitted.Should().BeGreaterThan(0);
        (await PeekCountAsync(store, [new("mixed", normal)])).Should().Be(admitted);
        admitted.Should().BeLessThanOrEqualTo(normal.Limit);
    });

    [Fact]
    public Task AcquireAsync_CoalescedScriptFails_EveryWaiterGetsTheError_AndTheLaneIsFreed()
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        RedisRateLimitStore store = PatientStore(scenario, useServerTime: false);
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromDays(300));
        await Admin.GetDatabase().ListLeftPushAsync(store.CounterKey("wrong-type", rule), "not a counter");
        await Admin.GetDatabase().KeyExpireAsync(store.CounterKey("wrong-type", rule), TimeSpan.FromMinutes(1));

        Task<(RateLimitDecision, RateLimitEntry)>[] calls = await CallWhilePausedAsync(scenario, store, _ => [new("wrong-type", rule)]);
        await Admin.GetDatabase().KeyDeleteAsync(store.CounterKey("wrong-type", rule));
        scenario.AssertPremiseOrRunAgain();

        static bool WrongType(Task call) => call.Exception?.InnerException is RedisServerException e && e.Message.Contains("WRONGTYPE", StringComparison.Ordinal);
        if (Redis.IsGarnet)
        {
            // Garnet keeps lists apart from strings: the waiters' script reads nothing there and admits them, while the
            // leader's INCRBY fails (as RedisRateLimitStoreBatchingTests.FailedMembers finds of a batch's reads).
            WrongType(calls[0]).Should().BeTrue("the leader's script failed");
            output.WriteLine("Waiters on Garnet: " + string.Join(", ", calls.Skip(1).GroupBy(c => c.IsCompletedSuccessfully ? c.Result.Item1.Status.ToString() : c.Status.ToString()).Select(g => $"{g.Count()} {g.Key}")));
        }
        else
        {
            calls.Where(c => !WrongType(c)).Should().BeEmpty("the waiters were sent in a script that failed, and each of them is told so");
        }

        store.LaneCount.Should().Be(0);
    });

    [Fact]
    public Task AcquireAsync_WaitedLongerThanTheQueueTimeout_FailsUnsentAndIsNotCharged()
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // Behind the resilience wrapper such a caller has long had its failure-mode answer; charging it a permit
        // later would count a request twice (fallback) or deny and charge it (fail-closed). The waiters must have
        // queued more than the queue's timeout before the server answers the acquire in flight.
        TimeSpan maxQueueWait = TimeSpan.FromMilliseconds(50);
        RedisRateLimitStore store = Store(scenario, useServerTime: true, maxQueueWait);
        RateLimitRule rule = RateLimitRule.FixedWindow(100, TimeSpan.FromDays(300));

        Task all = AcquireWhilePausedAsync(scenario, store, _ => [new("queued", rule)], maxQueueWait * 2);
        await all.ContinueWith(_ => { }, TaskScheduler.Default);
        scenario.AssertPremiseOrRunAgain();

        await FluentActions.Awaiting(() => all).Should().ThrowAsync<TimeoutException>();
        (await PeekCountAsync(store, [new("queued", rule)])).Should().Be(1, "only the acquire that was in flight was sent");
        store.LaneCount.Should().Be(0);
    });

    [Fact]
    public Task AcquireAsync_WaiterCancelledByItsCaller_IsNotSentAndItsResultsAreUntouched()
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // The waiter must be cancelled while the leader's script is held, so that it is still in the lane; once the
        // server answers, it would be sent instead.
        RedisRateLimitStore store = PatientStore(scenario, useServerTime: false);
        RateLimitRule rule = RateLimitRule.FixedWindow(100, TimeSpan.FromDays(300));
        RateLimitRequest[] request = [new("cancelled", rule)];
        await PauseAsync(scenario);
        Task<RateLimitDecision> leader = store.AcquireAsync(request, Memory<RateLimitEntry>.Empty).AsTask();
        using CancellationTokenSource cancel = new();
        RateLimitEntry[] entry = new RateLimitEntry[1];
        Task<RateLimitDecision> waiter = store.AcquireAsync(request, entry, cancel.Token).AsTask();

        await cancel.CancelAsync();
        scenario.ExpectStillPaused("the waiter was cancelled");
        await Task.WhenAll(leader, waiter).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);
        await store.SettledAsync();
        scenario.AssertPremiseOrRunAgain();

        await FluentActions.Awaiting(() => waiter.WaitAsync(TimeSpan.FromSeconds(30))).Should().ThrowAsync<OperationCanceledException>();
        (await leader.WaitAsync(TimeSpan.FromSeconds(30))).IsAllowed.Should().BeTrue();
        entry[0].Should().Be(default(RateLimitEntry), "a cancelled caller's buffer is never written");
        (await PeekCountAsync(store, request)).Should().Be(1);
    });

    /// <summary>
    /// Pauses the server for 300 ms once the store's connection is up: a connection made during the pause would hold
    /// its callers in its handshake, not in the key's lane.
    /// </summary>
    private async Task PauseAsync(PausedScenario scenario)
    {
        await Admin.GetDatabase().PingAsync();
        await scenario.PauseAsync(TimeSpan.FromMilliseconds(300));
    }

    /// <summary>A store whose waiters outlast the pause: the default queue timeout (250 ms) is shorter than it.</summary>
    private RedisRateLimitStore PatientStore(PausedScenario scenario, bool useServerTime) => Store(scenario, useServerTime, TimeSpan.FromSeconds(30));

    /// <summary>A store on keys of the scenario's attempt.</summary>
    private RedisRateLimitStore Store(PausedScenario scenario, bool useServerTime, TimeSpan maxQueueWait)
    {
        RedisRateLimitStoreOptions options = new()
        {
            KeyPrefix = scenario.Prefix(Prefix),
            UseServerTime = useServerTime,
            ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(Admin),
        };
        return new(new RedisConnection(options, null, null), options, useServerTime ? TimeProvider.System : Time, null, maxQueueWait);
    }

    /// <summary>
    /// Pauses the server and makes <see cref="Callers"/> acquires; the scenario's premise is that every one of them
    /// arrived while the first one's script was held, with <paramref name="left"/> of the pause to go.
    /// </summary>
    private async Task<(RateLimitDecision Decision, RateLimitEntry Entry)[]> AcquireWhilePausedAsync(
        PausedScenario scenario, RedisRateLimitStore store, Func<int, RateLimitRequest[]> request, TimeSpan left = default)
        => await Task.WhenAll(await CallWhilePausedAsync(scenario, store, request, left));

    /// <summary>As <see cref="AcquireWhilePausedAsync"/>, returning each acquire once all have completed, failed or not.</summary>
    private async Task<Task<(RateLimitDecision Decision, RateLimitEntry Entry)>[]> CallWhilePausedAsync(
        PausedScenario scenario, RedisRateLimitStore store, Func<int, RateLimitRequest[]> request, TimeSpan left = default)
    {
        await PauseAsync(scenario);
        Task<(RateLimitDecision, RateLimitEntry)>[] calls = [.. Enumerable.Range(0, Callers).Select(async i =>
        {
            RateLimitEntry[] entry = new RateLimitEntry[1];
            RateLimitDecision decision = await store.AcquireAsync(request(i), entry);
            return (decision, entry[0]);
        })];
        scenario.ExpectStillPaused($"the {Callers} callers were queued", left);
        // A waiter that is never answered must fail the test, not hang it.
        await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(30));
        return calls;
    }

    private static async Task<long> PeekCountAsync(RedisRateLimitStore store, RateLimitRequest[] request)
    {
        RateLimitEntry[] entry = new RateLimitEntry[1];
        await store.PeekAsync(request, entry);
        return entry[0].Count;
    }

    private static async Task<long> EvalShaCallsAsync(IServer server)
    {
        string stats = (await server.ExecuteAsync("INFO", "commandstats")).ToString();
        string? line = stats.Split('\n').FirstOrDefault(l => l.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(',')[0].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
