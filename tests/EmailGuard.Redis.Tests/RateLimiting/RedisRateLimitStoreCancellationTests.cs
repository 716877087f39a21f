using System.Diagnostics;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Cancellation charges nothing: 64 callers acquire through the resilience wrapper and cancel at every stage (before
/// the call, right after it was sent, a moment later, or never). Once the give-backs of acquires cancelled in flight
/// have settled, every counter holds exactly what callers were told was admitted, on the coalesced single-key path
/// and on the multi-key script alike.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisRateLimitStoreCancellationTests(RedisServerFixture redis, ITestOutputHelper output) : RedisStoreTestBase(redis)
{
    private const int Callers = 64;
    private const int CallsPerCaller = 40;

    public static TheoryData<string, bool> Shapes => new()
    {
        { "one counter (coalesced)", false },
        { "one counter (coalesced)", true },
        { "two rules of one partition", false },
        { "two rules of one partition", true },
        { "two partitions", false },
        { "two partitions", true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task AcquireAsync_64CallersCancellingAtEveryStage_CountersSettleAtExactlyTheAdmittedCount(string shape, bool useServerTime)
    {
        // Arrange: windows far longer than the test, so no window ends under it; limits the load passes, so denials too.
        FakeLogger<RedisRateLimitStore> logger = new();
        // The store's queue wait matches the wrapper's generous timeout: on a loaded machine, or a cold Garnet that
        // compiles the batch script on its first call, the first batch can take longer than the default 250 ms, and
        // members queued behind it would time out, which is a store failure, not what this test is about.
        RedisRateLimitStore store = CreateStore(Admin, Prefix, useServerTime ? TimeProvider.System : Time, useServerTime, logger, maxQueueWait: TimeSpan.FromSeconds(30));
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(30) }, useServerTime ? TimeProvider.System : Time);
        RateLimitRule fixedRule = RateLimitRule.FixedWindow(700, TimeSpan.FromDays(300));
        RateLimitRule slidingRule = RateLimitRule.SlidingWindow(900, TimeSpan.FromDays(300), segments: 10);
        RateLimitRequest[] request = shape switch
        {
            "one counter (coalesced)" => [new("victim", fixedRule)],
            "two rules of one partition" => [new("victim", fixedRule), new("victim", slidingRule)],
            _ => [new("victim", fixedRule), new("global", slidingRule)],
        };

        // Act
        Outcome[] outcomes = await RunAsync(resilient, request, Callers, CallsPerCaller);
        await resilient.CancelledCallsSettledAsync();
        await store.SettledAsync();

        // Assert
        int admitted = outcomes.Count(o => o == Outcome.Admitted);
        int cancelled = outcomes.Count(o => o == Outcome.Cancelled);
        long[] counts = await CountsAsync(store, request);
        int givenBack = logger.Collector.GetSnapshot().Count(r => r.Id.Id == 1302);
        output.WriteLine($"{shape}, server time {useServerTime}: {outcomes.Length} calls, {admitted} admitted, "
            + $"{outcomes.Count(o => o == Outcome.Denied)} denied, {cancelled} cancelled ({givenBack} of them given back after they had been admitted in flight); "
            + $"counters {string.Join(", ", counts)}");
        outcomes.Should().NotContain(Outcome.Failed, "only the caller's own cancellation may surface");
        // Outcomes come caller by caller; stage (caller + i) % 5 says when a call was cancelled (0 before it was made,
        // 1 to 3 while it may be in flight, 4 never). How many in-flight calls are cancelled before Redis answers
        // depends on the machine's speed (a loaded run saw fewer than half of all calls cancelled), so the test
        // asserts what is certain, and that cancellation in flight did happen.
        int[] stages = [.. Enumerable.Range(0, outcomes.Length).Select(n => ((n / CallsPerCaller) + (n % CallsPerCaller)) % 5)];
        Enumerable.Range(0, outcomes.Length).Where(n => stages[n] == 0).Should().OnlyContain(n => outcomes[n] == Outcome.Cancelled, "a call cancelled before it is made is cancelled");
        Enumerable.Range(0, outcomes.Length).Where(n => stages[n] == 4).Should().NotContain(n => outcomes[n] == Outcome.Cancelled, "a call never cancelled is answered");
        Enumerable.Range(0, outcomes.Length).Count(n => stages[n] is >= 1 and <= 3 && outcomes[n] == Outcome.Cancelled)
            .Should().BeGreaterThan(0, "calls must have been cancelled in flight, or the test proves nothing");
        admitted.Should().BeGreaterThan(0).And.BeLessThanOrEqualTo((int)fixedRule.Limit);
        counts.Should().AllSatisfy(c => c.Should().Be(admitted, "a counter holds what callers were told was admitted, and no cancelled acquire"));
        resilient.CircuitState.Should().Be(StoreCircuitState.Closed, "a caller's cancellation is not a store failure");
        store.LaneCount.Should().Be(0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AcquireAsync_64CallersOnTheirOwnKeysCancellingAtEveryStage_EachCounterSettlesAtItsAdmittedCount(bool useServerTime)
    {
        // Arrange: each caller acquires its own counter, so concurrent acquires go out as members of the batch script
        // (pooled and reused, their arguments inline or repeated from the member before); a limit below the calls per
        // caller, so members are denied too.
        RedisRateLimitStore store = CreateStore(Admin, Prefix, useServerTime ? TimeProvider.System : Time, useServerTime, maxQueueWait: TimeSpan.FromSeconds(30));
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(30) }, useServerTime ? TimeProvider.System : Time);
        RateLimitRule rule = RateLimitRule.FixedWindow(25, TimeSpan.FromDays(300));
        RateLimitRequest[][] requests = [.. Enumerable.Range(0, Callers).Select(c => new[] { new RateLimitRequest($"own-{c}", rule) })];
        long batched = store.Batcher!.MembersBatched;

        // Act
        Outcome[][] outcomes = await RunPerCallerAsync(resilient, c => requests[c], Callers, CallsPerCaller);
        await resilient.CancelledCallsSettledAsync();
        await store.SettledAsync();

        // Assert: a member dropped unsent took nothing, one cancelled in flight was given back, the rest count exactly.
        outcomes.SelectMany(o => o).Should().NotContain(Outcome.Failed, "only the caller's own cancellation may surface");
        (store.Batcher.MembersBatched - batched).Should().BeGreaterThan(0, "acquires of different keys in flight together are batched");
        for (int c = 0; c < Callers; c++)
        {
            int admitted = outcomes[c].Count(o => o == Outcome.Admitted);
            admitted.Should().BeLessThanOrEqualTo((int)rule.Limit);
            (await CountsAsync(store, requests[c])).Should().Equal([admitted], $"own-{c} holds what its caller was told was admitted");
        }

        (await LanesAfterLastBatchAsync(store.Batcher)).Should().Be(0);
        store.LaneCount.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileRedisIsPaused_AnsweredAtOnce_AndGivenBackWhenTheScriptRuns()
    {
        // Arrange: Redis holds every script for 2 s, so each acquire is surely in flight when its caller cancels 50 ms
        // later, and the callers must hear of it while the scripts are still held. The pause was 300 ms, with 250 ms of
        // it left for the answers after a 50 ms delay: a loaded machine can stretch that delay or the answers past it.
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, useServerTime: false);
        RateLimitRule rule = RateLimitRule.FixedWindow(100, TimeSpan.FromDays(300));
        TimeSpan pause = TimeSpan.FromSeconds(2);
        for (int attempt = 1; ; attempt++)
        {
            RateLimitRequest[] one = [new("paused-one-" + attempt, rule)];
            RateLimitRequest[] two = [new("paused-two-" + attempt, rule), new("paused-two-" + attempt, RateLimitRule.SlidingWindow(100, TimeSpan.FromDays(300), 10))];
            long pausedAt = Stopwatch.GetTimestamp();
            await Redis.PauseAsync(pause, writesOnly: true);
            using CancellationTokenSource cts = new();

            // Act: the acquires are sent (one leads the single-key lane, three wait in it, one is a multi-key script), then cancelled.
            Task<RateLimitDecision>[] calls =
            [
                .. Enumerable.Range(0, 4).Select(_ => store.AcquireAsync(one, default, cts.Token).AsTask()),
                store.AcquireAsync(two, default, cts.Token).AsTask(),
            ];
            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System);
            TimeSpan cancelledAfter = Stopwatch.GetElapsedTime(pausedAt);
            await cts.CancelAsync();
            await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(TimeSpan.FromSeconds(30));
            TimeSpan answeredAfter = Stopwatch.GetElapsedTime(pausedAt);
            await WaitUntilAnsweredAsync();
            await store.SettledAsync();
            if (cancelledAfter > pause / 2 && attempt < 3)
            {
                // The 50 ms delay itself outlasted half the pause: the scenario (cancelled while held) may not have happened.
                output.WriteLine($"Attempt {attempt}: cancelled {cancelledAfter.TotalMilliseconds:F0} ms into a {pause.TotalMilliseconds:F0} ms pause; again.");
                continue;
            }

            if (calls.Any(c => c.IsCompletedSuccessfully) && answeredAfter < pause / 2 && attempt < 3)
            {
                // A decision within the pause can only be the server's answer: the server was not paused (two fresh-clone
                // CI runs saw Garnet answer 59 and 93 ms into a SIGSTOP). The scenario did not happen; run it again.
                output.WriteLine($"Attempt {attempt}: a call was decided {answeredAfter.TotalMilliseconds:F0} ms into a {pause.TotalMilliseconds:F0} ms pause, so the server answered; again.");
                continue;
            }

            // Assert: every caller heard of its cancellation before Redis resumed; then nothing stays counted.
            output.WriteLine($"Cancelled {cancelledAfter.TotalMilliseconds:F0} ms and answered {answeredAfter.TotalMilliseconds:F0} ms into the pause.");
            calls.Should().OnlyContain(c => c.IsCanceled, "each caller cancelled while its acquire was held");
            answeredAfter.Should().BeLessThan(pause, "a cancelled caller is answered at once, not when Redis answers the script");
            (await CountsAsync(store, one)).Should().Equal(0);
            (await CountsAsync(store, two)).Should().Equal(0, 0);
            return;
        }
    }

    [Fact]
    public async Task AcquireAsync_CancelledBeforeTheCall_SendsNothing()
    {
        RedisRateLimitStore store = CreateStore(Admin, Prefix, Time, useServerTime: false);
        RateLimitRequest[] request = [new("never", RateLimitRule.PerDay(5))];

        Func<Task> act = async () => await store.AcquireAsync(request, default, new CancellationToken(canceled: true));

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await Admin.GetDatabase().KeyExistsAsync(store.CounterKey("never", request[0].Rule))).Should().BeFalse();
    }

    private enum Outcome
    {
        Failed,
        Admitted,
        Denied,
        Cancelled,
    }

    private static async Task<Outcome[]> RunAsync(ResilientRateLimitStore resilient, RateLimitRequest[] request, int callers, int callsPerCaller)
        => [.. (await RunPerCallerAsync(resilient, _ => request, callers, callsPerCaller)).SelectMany(o => o)];

    private static async Task<Outcome[][]> RunPerCallerAsync(ResilientRateLimitStore resilient, Func<int, RateLimitRequest[]> requestOf, int callers, int callsPerCaller)
    {
        return await Task.WhenAll(Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            RateLimitRequest[] request = requestOf(caller);
            Outcome[] mine = new Outcome[callsPerCaller];
            for (int i = 0; i < callsPerCaller; i++)
            {
                int stage = (caller + i) % 5;
                using CancellationTokenSource cts = new();
                if (stage == 0)
                {
                    await cts.CancelAsync();
                }

                ValueTask<RateLimitDecision> call = resilient.AcquireAsync(request, default, StoreFailureMode.FailOpen, cts.Token);
                switch (stage)
                {
                    case 1:
                        await cts.CancelAsync();
                        break;
                    case 2:
                        await Task.Yield();
                        await cts.CancelAsync();
                        break;
                    case 3:
                        cts.CancelAfter(TimeSpan.FromMilliseconds(caller % 3));
                        break;
                }

                try
                {
                    RateLimitDecision decision = await call;
                    mine[i] = decision.Status switch
                    {
                        RateLimitStatus.Allowed => Outcome.Admitted,
                        RateLimitStatus.LimitExceeded => Outcome.Denied,
                        _ => Outcome.Failed,
                    };
                }
                catch (OperationCanceledException)
                {
                    mine[i] = Outcome.Cancelled;
                }
#pragma warning disable CA1031 // Recorded and asserted: no other exception may reach a caller.
                catch (Exception)
#pragma warning restore CA1031
                {
                    mine[i] = Outcome.Failed;
                }
            }

            return mine;
        }))).WaitAsync(TimeSpan.FromSeconds(60));
    }

    private static async Task<long[]> CountsAsync(RedisRateLimitStore store, RateLimitRequest[] request)
    {
        RateLimitRequest[] peek = [.. request.Select(r => r with { Cost = 0 })];
        RateLimitEntry[] entries = new RateLimitEntry[peek.Length];
        await store.PeekAsync(peek, entries);
        return [.. entries.Select(e => e.Count)];
    }

    /// <summary>Waits until Redis answers again after the pause (a read is not paused by CLIENT PAUSE WRITE, so a write probes it; on Garnet nothing answers until SIGCONT).</summary>
    private async Task WaitUntilAnsweredAsync()
        => await Admin.GetDatabase().StringSetAsync("cancel-probe:" + Prefix, "1", TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(10));
}
