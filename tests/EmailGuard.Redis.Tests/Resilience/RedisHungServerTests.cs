using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// A Redis that hangs (<c>SIGSTOP</c>) while 64 callers are queued behind one script in flight: every caller gets its
/// failure mode's answer while the server is still frozen, and once it runs again (<c>SIGCONT</c>) and answers what it
/// held, no caller is charged twice: the counters hold exactly what callers were told was admitted.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public class RedisHungServerTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Callers = 64;
    private const int Limit = 10;
    private static readonly TimeSpan s_timeout = TimeSpan.FromMilliseconds(250);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private RedisAppInstance? _instance;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    [InlineData(StoreFailureMode.FailOpen)]
    public async Task ServerHangsWithCallersQueued_EachGetsItsFailureMode_AndAfterItRunsAgainTheCountersHoldExactlyWhatWasAdmitted(StoreFailureMode mode)
    {
        // Arrange: one instance that counts every limit alone (its local share is the whole limit), one key per caller.
        if (!redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS there is no process of ours to freeze.
        }

        _instance = RedisAppInstance.Create(redis.CreateConfiguration(), _prefix, o =>
        {
            o.Timeout = s_timeout;
            o.InstanceCount = 1;
            o.BreakDuration = TimeSpan.FromMilliseconds(200);
        });
        ResilientRateLimitStore store = _instance.Resilient;
        // About a day, centred on now: no window boundary (midnight UTC included) falls inside the run, so it reads its counters in the window they were counted in.
        RateLimitRule rule = CenteredWindow.PerDay(Limit);
        RateLimitRequest Request(int caller) => new($"caller-{caller}", rule);
        // Redis is up. The instance connects lazily, and a loaded machine can stretch the first call's connect and
        // script load past the 250 ms timeout, which the mode then answers: wait until Redis answers instead.
        await ResilientStoreWaits.ConnectedAsync(store);

        // Act: the server hangs; 64 callers come at once: the first's script is held in the socket, the rest queue behind it.
        redis.Freeze();
        RateLimitDecision[] answers;
        try
        {
            Task<RateLimitDecision>[] calls = [.. Enumerable.Range(0, Callers).Select(caller => Task.Run(() => store.AcquireAsync(new[] { Request(caller) }, default, mode).AsTask()))];

            // Generous: 60 timeouts. The server stays frozen until every caller has its answer, so none came from it.
            answers = await Task.WhenAll(calls).WaitAsync(s_timeout * 60);
        }
        finally
        {
            redis.Thaw();
        }

        await store.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await ((RedisRateLimitStore)store.Store).SettledAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await UntilRedisDecidesAgainAsync(store, rule, mode);
        await ResilientStoreWaits.SettledAsync(store, TimeSpan.FromSeconds(30));

        RedisRateLimitStore reader = RedisStoreTestBase.CreateStore(redis.CreateMultiplexer(), _prefix, TimeProvider.System, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRequest[] all = [.. Enumerable.Range(0, Callers).Select(caller => Request(caller) with { Cost = 0 })];
        RateLimitEntry[] counted = new RateLimitEntry[Callers];
        await reader.PeekAsync(all, counted);

        // Then every caller spends the rest of its limit through Redis, in the same mode, from an instance whose timeout
        // no healthy call outlasts: 768 calls at 250 ms on a loaded machine can meet one that does, which the mode would
        // answer (unavailable, unguarded, or a local admission written back later) and no count here could tell apart.
        await using RedisAppInstance healthy = RedisAppInstance.Create(redis.CreateConfiguration(), _prefix, o =>
        {
            o.Timeout = TimeSpan.FromSeconds(30);
            o.InstanceCount = 1;
        });
        int[] admittedAfter = new int[Callers];
        for (int caller = 0; caller < Callers; caller++)
        {
            for (int i = 0; i < Limit + 2; i++)
            {
                RateLimitDecision decision = await healthy.Resilient.AcquireAsync(new[] { Request(caller) }, default, mode);
                decision.Status.Should().BeOneOf([RateLimitStatus.Allowed, RateLimitStatus.LimitExceeded], "Redis runs and decides caller {0}'s call {1}", caller, i);
                decision.AdmittedLocally.Should().BeFalse("Redis runs and decides caller {0}'s call {1}", caller, i);
                admittedAfter[caller] += decision.Status == RateLimitStatus.Allowed ? 1 : 0;
            }
        }

        RateLimitEntry[] final = new RateLimitEntry[Callers];
        await reader.PeekAsync(all, final);

        // Assert
        output.WriteLine($"{mode}: answers {string.Join(", ", answers.GroupBy(a => (a.Status, a.AdmittedLocally)).Select(g => $"{g.Key} x{g.Count()}"))}; "
            + $"counted after the hang {string.Join(",", counted.Select(c => c.Count))}");
        switch (mode)
        {
            case StoreFailureMode.FailClosed:
                answers.Should().OnlyContain(a => a.Status == RateLimitStatus.StoreUnavailable);
                counted.Should().OnlyContain(c => c.Count == 0, "a late admission of a caller told 'unavailable' is given back");
                break;
            case StoreFailureMode.LocalFallback:
                answers.Should().OnlyContain(a => a.Status == RateLimitStatus.Allowed && a.AdmittedLocally);
                counted.Should().OnlyContain(c => c.Count == 1, "the local admission is written back once, and a late one from the server is given back");
                break;
            default:
                answers.Should().OnlyContain(a => a.Status == RateLimitStatus.AllowedUnguarded);
                counted.Should().OnlyContain(c => c.Count <= 1, "an unguarded send is counted at most once: if its script ran late");
                break;
        }

        for (int caller = 0; caller < Callers; caller++)
        {
            admittedAfter[caller].Should().Be(Limit - (int)counted[caller].Count, "caller {0} spends exactly what is left of its limit", caller);
            final[caller].Count.Should().Be(Limit, "caller {0}", caller);
        }
    }

    /// <summary>Acquires a key of its own until Redis (not the failure mode) decides, which also starts the write-back.</summary>
    private static async Task UntilRedisDecidesAgainAsync(ResilientRateLimitStore store, RateLimitRule rule, StoreFailureMode mode)
    {
        using CancellationTokenSource giveUp = new(TimeSpan.FromSeconds(30));
        while (true)
        {
            RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("probe", rule) }, default, mode);
            if (decision.Status == RateLimitStatus.Allowed && !decision.AdmittedLocally)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), TimeProvider.System, giveUp.Token);
        }
    }
}
