using EmailGuard.Testing.Redis;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Many app instances (one multiplexer each) and many callers per instance on shared counters: the admitted count is
/// exact, and a multi-key acquire never moves a counter unless it was admitted as a whole.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisRateLimitStoreConcurrencyTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private const int Instances = 8;
    private const int CallersPerInstance = 64;

    public static TheoryData<string, bool> Shapes => new()
    {
        { "fixed", false },
        { "sliding", false },
        { "sliding", true },
        { "bucket", false },
        { "bucket", true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task AcquireAsync_ManyInstancesOnOneKey_AdmitsExactlyTheLimit(string algorithm, bool useServerTime)
    {
        // The bucket refills one permit every 86.4 s, so on the server's clock none comes back during the test.
        RateLimitRule rule = algorithm switch
        {
            "fixed" => RateLimitRule.FixedWindow(500, TimeSpan.FromHours(1)),
            "sliding" => RateLimitRule.SlidingWindow(500, TimeSpan.FromDays(1), segments: 24),
            _ => RateLimitRule.TokenBucket(1_000, TimeSpan.FromDays(1), 500),
        };
        RedisRateLimitStore[] stores = CreateInstances(useServerTime);
        RateLimitRequest[] request = [new("hot", rule)];
        int admitted = 0;

        await RunCallersAsync(stores, async (store, _) =>
        {
            for (int attempt = 0; attempt < 2; attempt++)
            {
                if ((await store.AcquireAsync(request, Memory<RateLimitEntry>.Empty)).IsAllowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        });
        RateLimitEntry[] usage = new RateLimitEntry[1];
        await stores[0].PeekAsync(new[] { new RateLimitRequest("hot", rule, 0) }, usage);

        admitted.Should().Be(500);
        usage[0].Count.Should().Be(500);
    }

    [Fact]
    public async Task AcquireAsync_TokenBucketChangedMidwayOnTwoInstances_AdmitsExactlyTheFinalBurst()
    {
        // A bucket of 100 per hour lowered to 60 per hour and back, again and again, while 2 × 64 callers take from it
        // (the clock stands still, so nothing refills): the spent permits carry over every change, so no change hands
        // out a fresh burst, and once it stays at 100, exactly 100 were admitted in all.
        RateLimitRule high = RateLimitRule.TokenBucket(100, TimeSpan.FromHours(1), 100);
        RateLimitRule low = RateLimitRule.TokenBucket(60, TimeSpan.FromHours(1), 60);
        RedisRateLimitStore[] stores = [CreateStore(Redis.CreateMultiplexer(), Prefix, Time), CreateStore(Redis.CreateMultiplexer(), Prefix, Time)];
        int attempts = 0;
        int admitted = 0;

        await RunCallersAsync(stores, async (store, _) =>
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                // The rule changes every 7 attempts across all callers: a reload that callers meet mid-way.
                RateLimitRule rule = (Interlocked.Increment(ref attempts) / 7) % 2 == 0 ? high : low;
                if ((await store.AcquireAsync(new[] { new RateLimitRequest("hot-bucket", rule) }, Memory<RateLimitEntry>.Empty)).IsAllowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        });
        int whileChanging = admitted;
        await RunCallersAsync(stores, async (store, _) =>
        {
            if ((await store.AcquireAsync(new[] { new RateLimitRequest("hot-bucket", high) }, Memory<RateLimitEntry>.Empty)).IsAllowed)
            {
                Interlocked.Increment(ref admitted);
            }
        });

        whileChanging.Should().BeInRange(60, 100, "each caller met both rules; no change refilled the bucket");
        admitted.Should().Be(100, "the permits spent under either rule stay spent under the other");
    }

    [Fact]
    public async Task AcquireAsync_ConcurrentMultiKeyAcquires_AreAllOrNothing()
    {
        RateLimitRule[] rules =
        [
            RateLimitRule.FixedWindow(120, TimeSpan.FromHours(1)),
            RateLimitRule.SlidingWindow(200, TimeSpan.FromHours(1), segments: 12),
            RateLimitRule.FixedWindow(90, TimeSpan.FromDays(1)),
            RateLimitRule.SlidingWindow(150, TimeSpan.FromDays(1), segments: 24),
            RateLimitRule.TokenBucket(1_000, TimeSpan.FromDays(1), 130),
        ];
        string[] keys = ["tenant:a", "sender:b", "recipient:c", "domain:d", "provider:e"];
        RedisRateLimitStore[] stores = CreateInstances(useServerTime: false);
        long[] taken = new long[keys.Length];
        int admittedCalls = 0;
        int deniedCalls = 0;

        await RunCallersAsync(stores, async (store, caller) =>
        {
            Random random = new(caller);
            for (int attempt = 0; attempt < 3; attempt++)
            {
                int[] picked = [.. Enumerable.Range(0, keys.Length).OrderBy(_ => random.Next()).Take(random.Next(2, 4))];
                RateLimitRequest[] requests = [.. picked.Select(k => new RateLimitRequest(keys[k], rules[k], random.Next(1, 4)))];
                RateLimitDecision decision = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
                if (decision.IsAllowed)
                {
                    Interlocked.Increment(ref admittedCalls);
                    for (int i = 0; i < picked.Length; i++)
                    {
                        Interlocked.Add(ref taken[picked[i]], requests[i].Cost);
                    }
                }
                else
                {
                    Interlocked.Increment(ref deniedCalls);
                }
            }
        });
        RateLimitEntry[] usage = new RateLimitEntry[keys.Length];
        await stores[0].PeekAsync(keys.Select((k, i) => new RateLimitRequest(k, rules[i], 0)).ToArray(), usage);

        admittedCalls.Should().BeGreaterThan(0);
        deniedCalls.Should().BeGreaterThan(0, "demand exceeds every limit, so some acquires must be denied");
        usage.Select(u => u.Count).Should().Equal(taken, "each counter holds exactly the costs of admitted acquires");
        usage.Should().OnlyContain(u => u.Count <= u.Limit);
    }

    [Fact]
    public async Task AcquireAsync_BusyCallersOverSharedAndOwnKeys_WithSmallLimits_AdmitExactlyTheLimits_AllOrNothing()
    {
        // Every caller loops at once from one acquire to the next, so each instance's lane keeps two batches in flight:
        // single-key acquires of 16 hot keys (limit 20, asked for 96 times each) and multi-key ones of the caller's
        // own key (limit 3) with a group key (limit 40) shared by a quarter of the callers.
        RateLimitRule hot = RateLimitRule.FixedWindow(20, TimeSpan.FromDays(300));
        RateLimitRule own = RateLimitRule.FixedWindow(3, TimeSpan.FromDays(300));
        RateLimitRule group = RateLimitRule.FixedWindow(40, TimeSpan.FromDays(300));
        const int Rounds = 6;
        const int Callers = Instances * CallersPerInstance;
        RedisRateLimitStore[] stores = CreateInstances(useServerTime: false);
        int[] hotAdmitted = new int[16];
        int[] ownAdmitted = new int[Callers];
        int[] groupAdmitted = new int[4];

        await RunCallersAsync(stores, async (store, caller) =>
        {
            for (int round = 0; round < Rounds; round++)
            {
                if (round % 2 == 0)
                {
                    int k = (caller + round) % 16;
                    if ((await store.AcquireAsync(new[] { new RateLimitRequest($"hot-{k}", hot) }, Memory<RateLimitEntry>.Empty)).IsAllowed)
                    {
                        Interlocked.Increment(ref hotAdmitted[k]);
                    }
                }
                else
                {
                    int g = caller % 4;
                    RateLimitRequest[] requests = [new($"own-{caller}", own), new($"group-{g}", group)];
                    if ((await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed)
                    {
                        Interlocked.Increment(ref ownAdmitted[caller]);
                        Interlocked.Increment(ref groupAdmitted[g]);
                    }
                }
            }
        });

        RateLimitRequest[] peeks =
        [
            .. Enumerable.Range(0, 16).Select(k => new RateLimitRequest($"hot-{k}", hot, 0)),
            .. Enumerable.Range(0, 4).Select(g => new RateLimitRequest($"group-{g}", group, 0)),
            .. Enumerable.Range(0, Callers).Select(c => new RateLimitRequest($"own-{c}", own, 0)),
        ];
        RateLimitEntry[] usage = new RateLimitEntry[peeks.Length];
        await stores[0].PeekAsync(peeks, usage);

        hotAdmitted.Should().OnlyContain(a => a == 20, "each hot key was asked for 96 times, and admits exactly its limit");
        usage.Take(16).Select(u => u.Count).Should().OnlyContain(c => c == 20);
        groupAdmitted.Should().OnlyContain(a => a == 40, "each group key was asked for 384 times, and admits exactly its limit");
        usage.Skip(16).Take(4).Select(u => u.Count).Should().OnlyContain(c => c == 40);
        usage.Skip(20).Select(u => u.Count).Should().Equal(ownAdmitted.Select(a => (long)a), "an own key moved only with its group key, all or nothing");
        stores.Sum(s => s.Batcher!.BatchesSent).Should().BeGreaterThan(0, "the callers' acquires were batched");
    }

    private RedisRateLimitStore[] CreateInstances(bool useServerTime)
    {
        RedisRateLimitStore[] stores = new RedisRateLimitStore[Instances];
        for (int i = 0; i < Instances; i++)
        {
            ConnectionMultiplexer multiplexer = Redis.CreateMultiplexer();
            stores[i] = CreateStore(multiplexer, Prefix, Time, useServerTime, batchEveryAcquire: BatchEveryAcquire);
        }

        return stores;
    }

    internal static async Task RunCallersAsync(RedisRateLimitStore[] stores, Func<RedisRateLimitStore, int, Task> caller)
    {
        TaskCompletionSource start = new(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task> callers = [];
        for (int instance = 0; instance < stores.Length; instance++)
        {
            for (int c = 0; c < CallersPerInstance; c++)
            {
                RedisRateLimitStore store = stores[instance];
                int id = (instance * CallersPerInstance) + c;
                callers.Add(Task.Run(async () =>
                {
                    await start.Task;
                    await caller(store, id);
                }));
            }
        }

        start.SetResult();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromMinutes(2));
    }
}

/// <summary>
/// The same exactness runs with every acquire sent through the batch script: many callers on several multiplexers,
/// their acquires of different keys batched per node, exact admitted counts and all-or-nothing.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreBatchedConcurrencyTests(RedisServerFixture redis) : RedisRateLimitStoreConcurrencyTests(redis)
{
    protected override bool BatchEveryAcquire => true;
}
