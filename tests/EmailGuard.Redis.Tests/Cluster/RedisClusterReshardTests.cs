using System.Diagnostics;
using System.Net;
using EmailGuard.Redis.Tests.Resilience;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A routine reshard under load, on the fault tests' own cluster (moving a slot disturbs the shared one). The slot of a
/// hot partition with an hourly and a daily rule moves from one master to another the way <c>redis-cli --cluster
/// reshard</c> moves it (SETSLOT IMPORTING and MIGRATING, MIGRATE key by key, SETSLOT NODE) while 64 callers acquire
/// and its hour rolls over on the app's clock: the new hour's counter exists nowhere yet while the daily one is moving,
/// so Redis answers TRYAGAIN (and ASK) until the slot has moved. No caller may see an error or a failure-mode answer,
/// each window admits exactly its limit, the circuit stays closed and every key keeps its TTL.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterReshardTests(RedisFaultClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Callers = 64;
    private static readonly TimeSpan s_hangGuard = TimeSpan.FromSeconds(60);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _admin;

    private ConnectionMultiplexer Admin => _admin ??= cluster.CreateMultiplexer();

    public static TheoryData<StoreFailureMode, bool> Cases => new()
    {
        { StoreFailureMode.FailOpen, false },
        { StoreFailureMode.FailOpen, true },
        { StoreFailureMode.FailClosed, false },
        { StoreFailureMode.FailClosed, true },
        { StoreFailureMode.LocalFallback, false },
        { StoreFailureMode.LocalFallback, true },
    };

    public Task InitializeAsync()
    {
        cluster.CanControlNodes.Should().BeTrue("the reshard tests move slots of their own local cluster");
        return cluster.WaitForHealthyAsync();
    }

    public async Task DisposeAsync()
    {
        ConnectionMultiplexer scanner = cluster.CreateMultiplexer();
        (IReadOnlyList<string> violations, int count) = await RedisKeyTtlAssertions.FindViolationsAsync(
            scanner, _prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        output.WriteLine($"TTL scan: {count} keys under {_prefix}, {violations.Count} violations");
        count.Should().BeGreaterThan(0);
        violations.Should().BeEmpty("every key keeps its TTL through MIGRATE and through scripts answered by the new master");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task SlotOfAHotTwoRulePartitionMovesWhileItsHourRollsOver_NoErrorNoOverAdmissionCircuitClosed(StoreFailureMode mode, bool acrossSlots)
    {
        // A timeout far above the move's ~60 ms: the slot's retry budget (half of it) must outlast any stall of a shared,
        // loaded machine, or the test would measure the machine instead of the store.
        ReshardRun run = await ReshardUnderLoadAsync(mode, acrossSlots, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(30));

        run.Calls.Should().OnlyContain(
            c => c.Decision.Status == RateLimitStatus.Allowed || c.Decision.Status == RateLimitStatus.LimitExceeded,
            "a reshard is not an outage: every call is decided by Redis, none by the failure mode");
    }

    [Theory]
    [InlineData(StoreFailureMode.FailOpen)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task SlotStaysHalfMovedLongerThanTheTimeout_CallsDeniedAsUnavailableNotAdmitted_CircuitClosed(StoreFailureMode mode)
    {
        // The slot stays half-moved for twice the 4 s timeout: the store gives up within it (at half of it) and says so, and
        // the answer is a denial whatever the mode, never an unguarded or local admission. The 2 s between the store's
        // budget and the wrapper's timeout absorb a stall of a loaded machine; with 1 s a CI run saw calls reach the
        // timeout (slowest 1,053 ms), counted as store failures that opened the circuit.
        ReshardRun run = await ReshardUnderLoadAsync(mode, acrossSlots: true, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8));

        run.Calls.Should().Contain(c => c.Decision.Status == RateLimitStatus.StoreUnavailable, "calls that met the half-moved slot for longer than the timeout");
        run.Calls.Should().OnlyContain(
            c => c.Decision.Status == RateLimitStatus.Allowed || c.Decision.Status == RateLimitStatus.LimitExceeded || c.Decision.Status == RateLimitStatus.StoreUnavailable,
            "a slot in transit is no reason to admit unguarded or against a local share");
    }

    [Fact]
    public async Task SlotMovesAwayFromTheMasterOfAnotherSlotOfTheSameAcquire_NodeScriptsFallBackSlotBySlot_NoOverAdmission()
    {
        // The acquire's other counter lives on the master the hot slot leaves: one node script decides both until the
        // slot moves, and a node script that meets the moving slot must leave nothing written and hand the acquire to
        // the slot-by-slot path. The counters' exact totals are asserted by the run.
        ReshardRun run = await ReshardUnderLoadAsync(StoreFailureMode.FailClosed, acrossSlots: true, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(30), otherOnSource: true);

        run.NodeScriptsFellBack.Should().BeGreaterThan(0, "node scripts must have met the moving slot, or the test proves nothing");
    }

    /// <summary>
    /// 64 callers acquire a hot two-rule partition (and, across slots, a counter on a third master) until its first
    /// hour is spent; its slot then moves while the hour rolls over, the slot staying half-moved for
    /// <paramref name="hold"/>; then more load. Asserts what every reshard must keep, and returns the calls.
    /// </summary>
    private async Task<ReshardRun> ReshardUnderLoadAsync(StoreFailureMode mode, bool acrossSlots, TimeSpan timeout, TimeSpan hold, bool otherOnSource = false)
    {
        // Arrange: the app's clock 30 s before the top of an hour (midday, so the day does not end too).
        DateTimeOffset realNow = TimeProvider.System.GetUtcNow();
        ShiftedClock clock = new(new DateTimeOffset(realNow.UtcDateTime.Date.AddHours(12).AddSeconds(-30), TimeSpan.Zero) - realNow);
        await using RedisAppInstance instance = RedisAppInstance.Create(
            cluster.CreateConfiguration(),
            _prefix,
            o => o.Timeout = timeout,
            services =>
            {
                services.AddSingleton<TimeProvider>(clock);
                services.AddLogging(b => b.AddFakeLogging().SetMinimumLevel(LogLevel.Debug));
            },
            o => o.UseServerTime = false);
        RateLimitRule hourly = RateLimitRule.PerHour(100);
        RateLimitRule daily = RateLimitRule.PerDay(300);
        RateLimitRule global = RateLimitRule.PerDay(100_000);
        string hot = PartitionAwayFromTheFaultTestsSlots("hot", hourly);
        int slot = Admin.HashSlot(RedisCounterKey.Create(_prefix, hot, hourly.ShapeId, RedisCounterKey.NoWindow));
        EndPoint source = NodeOfSlot(slot);
        EndPoint target = Masters().First(m => !m.Equals(source));
        string? other = acrossSlots ? PartitionOn(otherOnSource ? source : Masters().First(m => !m.Equals(source) && !m.Equals(target)), "global", global, avoidSlot: slot) : null;
        RateLimitRequest[] request = other is null
            ? [new(hot, hourly), new(hot, daily)]
            : [new(hot, hourly), new(hot, daily), new(other, global)];
        long firstHour = hourly.GetWindowIndex(clock.GetUtcNow().ToUnixTimeMilliseconds());

        // A first call straight to the store (no timeout) connects the instance: a cold connection is not the subject.
        await instance.Resilient.Store.PeekAsync(request.Select(r => r with { Cost = 0 }).ToArray(), default);

        // Act: load until the first hour is spent, then move the slot while the hour rolls over, then more load.
        ConcurrentLoad load = new();
        load.Start(Callers, maxCallsPerCaller: 4000, TimeSpan.FromMilliseconds(1), (_, _) => instance.Resilient.AcquireAsync(request, default, mode));
        await load.WaitForCallsAsync(300, s_hangGuard);
        long moveStarted = Stopwatch.GetTimestamp();
        int moved = await MoveSlotAsync(slot, source, target, rollOver: () => clock.Shift(TimeSpan.FromMinutes(1)), hold);
        TimeSpan moveTook = Stopwatch.GetElapsedTime(moveStarted);
        int callsAtMoveEnd = load.Calls.Count;
        await load.WaitForCallsAsync(callsAtMoveEnd + 500, s_hangGuard);
        await load.StopAsync(s_hangGuard);

        // Assert
        IReadOnlyList<FakeLogRecord> logs = instance.Services.GetRequiredService<FakeLogCollector>().GetSnapshot();
        int retried = logs.Count(r => r.Id.Id == 1300);
        int busy = logs.Count(r => r.Id.Id == 1301);
        int timedOut = logs.Count(r => r.Id.Id == 601);
        int failed = logs.Count(r => r.Id.Id == 600);
        int admitted = load.Calls.Count(c => c.Decision.Status == RateLimitStatus.Allowed);
        long[] counters = await CountersAsync(
            RedisCounterKey.Create(_prefix, hot, hourly.ShapeId, firstHour),
            RedisCounterKey.Create(_prefix, hot, hourly.ShapeId, firstHour + 1),
            RedisCounterKey.Create(_prefix, hot, daily.ShapeId, daily.GetWindowIndex(clock.GetUtcNow().ToUnixTimeMilliseconds())),
            other is null ? null : RedisCounterKey.Create(_prefix, other, global.ShapeId, global.GetWindowIndex(clock.GetUtcNow().ToUnixTimeMilliseconds())));
        output.WriteLine($"{mode}, across slots {acrossSlots}: slot {slot} moved {source} -> {target} ({moved} keys) in {moveTook.TotalMilliseconds:0} ms; "
            + $"{load.Calls.Count} calls ({string.Join(", ", load.Calls.GroupBy(c => c.Decision.Status).Select(g => $"{g.Key} {g.Count()}"))}), "
            + $"{retried} scripts refused while the slot moved and sent again, {busy} given up as busy, {timedOut} timed out, {failed} failed, slowest call {load.Calls.Max(c => c.Duration).TotalMilliseconds:0} ms; "
            + $"counters: hour 1 {counters[0]}, hour 2 {counters[1]}, day {counters[2]}{(other is null ? "" : $", global {counters[3]}")}; circuit {instance.Resilient.CircuitState}");

        NodeOfSlot(slot, fresh: true).Should().Be(target, "the slot moved");
        moved.Should().BeGreaterThanOrEqualTo(2, "the daily and the first hour's counters were on the old master");
        retried.Should().BeGreaterThan(0, "scripts must have met the moving slot, or the test proves nothing");
        load.Calls.Where(c => c.Exception is not null).Select(c => c.Exception!.ToString()).Should().BeEmpty("no exception reaches a caller");
        admitted.Should().Be(200, "each hour admits exactly its 100, however the slot moved");
        counters[0].Should().Be(100);
        counters[1].Should().Be(100);
        counters[2].Should().Be(200);
        if (other is not null)
        {
            counters[3].Should().Be(200, "the other slot holds exactly what was admitted: no reservation left behind");
        }

        instance.Resilient.CircuitState.Should().Be(StoreCircuitState.Closed);
        instance.Resilient.Breaker.ConsecutiveFailures.Should().Be(0, "no refusal of a moving slot counts as a store failure");
        return new ReshardRun([.. load.Calls], logs.Count(r => r.Id.Id == 2792));
    }

    /// <summary>
    /// Moves a slot as <c>redis-cli --cluster reshard</c> does: IMPORTING on the target, MIGRATING on the source; then
    /// <paramref name="rollOver"/> and <paramref name="hold"/>; then MIGRATE of every key, one at a time with a pause between, and SETSLOT NODE on
    /// every master. The slot is half-moved from the roll-over on, and stays so for at least <paramref name="hold"/>.
    /// Returns how many keys moved.
    /// </summary>
    private async Task<int> MoveSlotAsync(int slot, EndPoint source, EndPoint target, Action rollOver, TimeSpan hold)
    {
        IServer from = Admin.GetServer(source);
        IServer to = Admin.GetServer(target);
        string sourceId = from.ClusterConfiguration!.Nodes.Single(n => n.EndPoint!.Equals(source)).NodeId;
        string targetId = from.ClusterConfiguration!.Nodes.Single(n => n.EndPoint!.Equals(target)).NodeId;
        IPEndPoint targetAddress = (IPEndPoint)target;

        await to.ExecuteAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
        await from.ExecuteAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
        rollOver();
        await Task.Delay(hold, TimeProvider.System);
        int moved = 0;
        while (true)
        {
            RedisResult[] keys = (RedisResult[])(await from.ExecuteAsync("CLUSTER", "GETKEYSINSLOT", slot, 100))!;
            if (keys.Length == 0)
            {
                break;
            }

            foreach (RedisResult key in keys)
            {
                await from.ExecuteAsync("MIGRATE", targetAddress.Address.ToString(), targetAddress.Port, (string)key!, 0, 5000);
                moved++;
                await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
            }
        }

        await to.ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        await from.ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        foreach (EndPoint master in Masters().Where(m => !m.Equals(source) && !m.Equals(target)))
        {
            await Admin.GetServer(master).ExecuteAsync("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        }

        return moved;
    }

    private async Task<long[]> CountersAsync(params string?[] keys)
    {
        IDatabase database = cluster.CreateMultiplexer().GetDatabase();
        long[] counts = new long[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            counts[i] = keys[i] is null ? 0 : (long)await database.StringGetAsync(keys[i]);
        }

        return counts;
    }

    private EndPoint[] Masters()
        => [.. Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!.Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0).Select(n => n.EndPoint!)];

    private EndPoint NodeOfSlot(int slot, bool fresh = false)
    {
        ConnectionMultiplexer connection = fresh ? cluster.CreateMultiplexer() : Admin;
        return connection.GetServers().First(s => s.IsConnected).ClusterConfiguration!.GetBySlot(slot)!.EndPoint!;
    }

    /// <summary>A partition whose slot is none of those the fault tests pick their masters by (0, 8192, 16383).</summary>
    private string PartitionAwayFromTheFaultTestsSlots(string name, RateLimitRule rule)
    {
        for (int i = 0; ; i++)
        {
            // The prefix in the name gives each test a slot of its own, so no test moves another's keys too.
            string candidate = $"{name}-{_prefix}-{i}";
            int slot = Admin.HashSlot(RedisCounterKey.Create(_prefix, candidate, rule.ShapeId, RedisCounterKey.NoWindow));
            if (slot is not (0 or 8192 or 16383))
            {
                return candidate;
            }
        }
    }

    private string PartitionOn(EndPoint node, string name, RateLimitRule rule, int avoidSlot)
    {
        for (int i = 0; i < 10_000; i++)
        {
            string candidate = $"{name}-{i}";
            int slot = Admin.HashSlot(RedisCounterKey.Create(_prefix, candidate, rule.ShapeId, RedisCounterKey.NoWindow));
            if (slot != avoidSlot && NodeOfSlot(slot).Equals(node))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No partition name lands on {node}.");
    }

    private sealed record ReshardRun(IReadOnlyList<LoadCall> Calls, int NodeScriptsFellBack);

    /// <summary>The real clock, shifted: timers and timestamps run in real time, and the test can move "now".</summary>
    private sealed class ShiftedClock(TimeSpan offset) : TimeProvider
    {
        private long _offsetTicks = offset.Ticks;

        public void Shift(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));
    }
}
