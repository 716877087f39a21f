using System.Collections.Concurrent;
using System.Globalization;
using EmailGuard.Redis.Tests.Resilience;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// A check on Redis runs on pooled state: its async methods' boxes and its scratch buffers go back to pools when it
/// ends, and a set handed back on a thread that caches one already goes to a shared pool, from which a check on another
/// thread takes it at once. Anything that read a pooled box or set after handing it back (a premature return, a task
/// awaited twice) would show here as a decision that says another check's answer, or as a refund of another check's
/// counters: 64 callers check at once, some while Redis hangs (their calls time out and are abandoned, or are cancelled
/// by their callers), and every kept decision, read and refunded afterwards, must still show exactly its own answer,
/// and Redis must hold exactly what the callers were told was admitted and not refunded.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public class RedisSendGuardPooledStateTests(RedisServerFixture redis, ITestOutputHelper output)
{
    private const int Callers = 64;
    private const int ChecksEach = 24;

    /// <summary>How many status reads <see cref="AssertRedisHoldsExactlyAsync"/> has in flight at once.</summary>
    private const int StatusReaders = 16;

    /// <summary>
    /// The store's timeout while Redis hangs: the hung calls run into it, and nothing else may. At 250 ms, a machine loaded by other test
    /// runs timed out the give-back of a late admission or a write-back now and then, which leaves a counter stricter
    /// (by design) and this test's exact counts off; no call here comes near a second unless Redis is frozen.
    /// </summary>
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(120);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    /// <summary>A check and its answer; <see cref="Cancelled"/> when its caller gave up and got no answer.</summary>
    private sealed record Kept(int Index, OutboundEmail Message, EmailSendDecision Decision, bool Cancelled = false);

    /// <summary>Check <paramref name="index"/>'s message: one to three recipients of their own, one of eight tenants, so the plans' shapes differ.</summary>
    private static OutboundEmail Message(string phase, int index) => new()
    {
        To = [.. Enumerable.Range(0, 1 + (index % 3)).Select(r => string.Create(CultureInfo.InvariantCulture, $"{phase}{index}x{r}@d{index % 5}.example"))],
        Sender = "noreply@app.example",
        TenantId = Tenant(index),
        UserId = string.Create(CultureInfo.InvariantCulture, $"u{index % 16}"),
    };

    private static string Tenant(int index) => string.Create(CultureInfo.InvariantCulture, $"t{index % 8}");

    private ServiceProvider Build(StoreFailureMode mode, ConnectionMultiplexer multiplexer, TimeSpan timeout)
    {
        ServiceCollection services = new();
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = _prefix;
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            })
            .AddSendGuard(o =>
            {
                o.FailureMode = mode;
                o.StateRefreshInterval = TimeSpan.FromHours(1);

                // About a day, centred on now: no window boundary (an hour's, midnight UTC) falls inside the run, so every counter stays in one window.
                o.Global.Add(CenteredWindow.PerDay(RateLimitRule.MaxLimit));
                o.Tenant.Add(CenteredWindow.PerDay(1_000_000));
                o.Recipient.Add(CenteredWindow.PerDay(3));
                o.RecipientDomain.Add(CenteredWindow.PerDay(1_000_000));
            });
        services.Configure<StoreResilienceOptions>(o =>
        {
            // The breaker never opens: every check of a hung Redis goes to it and is abandoned at its timeout, and the
            // checks after it runs again go to it at once, while the held replies come in.
            o.Timeout = timeout;
            o.ConsecutiveFailureThreshold = 10_000;
            o.MinimumThroughput = 1_000_000;
        });
        return services.BuildServiceProvider();
    }

    /// <summary>64 callers, each checking its messages in turn; every answer kept with the message it answers.</summary>
    private static async Task<Kept[]> CheckAllAsync(IEmailSendGuard guard, string phase, Func<int, CancellationToken>? token = null)
    {
        ConcurrentBag<Kept> kept = [];
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            for (int i = c * ChecksEach; i < (c + 1) * ChecksEach; i++)
            {
                OutboundEmail message = Message(phase, i);
                try
                {
                    kept.Add(new Kept(i, message, await guard.CheckAsync(message, token?.Invoke(i) ?? default)));
                }
                catch (OperationCanceledException)
                {
                    // Its caller gave up: it has no decision, and must not be charged.
                    kept.Add(new Kept(i, message, default, Cancelled: true));
                }
            }
        }))).WaitAsync(s_bound);
        return [.. kept.OrderBy(k => k.Index)];
    }

    /// <summary>
    /// Each admitted decision shows its own message's parties, each of its recipients counted once, its own cost; and,
    /// when no refund ran meanwhile (<paramref name="countsOnlyGrew"/>), a global and a tenant count no other decision saw.
    /// </summary>
    private static void AssertEachShowsItsOwnAnswer(IEnumerable<Kept> kept, bool countsOnlyGrew)
    {
        List<long> globalCounts = [];
        Dictionary<string, List<long>> tenantCounts = [];
        foreach (Kept k in kept.Where(k => k.Decision.Reason == EmailSendReason.Allowed))
        {
            EmailSendRuleUsage[] usage = k.Decision.Usage.ToArray();
            int recipients = k.Message.To.Count;
            usage.Where(u => u.Dimension == EmailGuardDimension.Recipient).Select(u => (u.Partition, u.Count, u.Cost))
                .Should().BeEquivalentTo(k.Message.To.Select(to => ((string?)to, 1L, 1L)), "check {0} shows its own recipients, each counted once", k.Index);
            string domain = string.Create(CultureInfo.InvariantCulture, $"d{k.Index % 5}.example");
            usage.Where(u => u.Dimension == EmailGuardDimension.RecipientDomain).Select(u => u.Partition)
                .Should().OnlyContain(p => p == domain, "check {0}", k.Index);
            EmailSendRuleUsage tenant = usage.Single(u => u.Dimension == EmailGuardDimension.Tenant);
            tenant.Partition.Should().Be(Tenant(k.Index), "check {0}", k.Index);
            tenant.Cost.Should().Be(recipients, "check {0}", k.Index);
            EmailSendRuleUsage global = usage.Single(u => u.Dimension == EmailGuardDimension.Global);
            global.Cost.Should().Be(recipients, "check {0}", k.Index);
            globalCounts.Add(global.Count);
            (tenantCounts.TryGetValue(tenant.Partition!, out List<long>? counts) ? counts : tenantCounts[tenant.Partition!] = []).Add(tenant.Count);
        }

        if (!countsOnlyGrew)
        {
            return;
        }

        // Every admission moved the global counter and its tenant's: no two decisions can have seen the same count.
        globalCounts.Should().OnlyHaveUniqueItems("each admission saw the global counter after its own permits");
        foreach ((string tenant, List<long> counts) in tenantCounts)
        {
            counts.Should().OnlyHaveUniqueItems("each admission saw tenant {0}'s counter after its own permits", tenant);
        }
    }

    /// <summary>Refunds every other admitted decision, from 64 callers at once; returns the refunded ones.</summary>
    private static async Task<HashSet<int>> RefundHalfAsync(IEmailSendGuard guard, Kept[] kept)
    {
        Kept[] refunding = [.. kept.Where(k => k.Decision.Reason == EmailSendReason.Allowed && k.Index % 2 == 0)];
        refunding.Should().OnlyContain(k => k.Decision.IsRefundable);
        bool[] refunded = await Task.WhenAll(refunding.Select(k => Task.Run(() => guard.RefundAsync(k.Decision).AsTask()))).WaitAsync(s_bound);
        refunded.Should().OnlyContain(r => r, "every admission on Redis is refundable once");
        return [.. refunding.Select(k => k.Index)];
    }

    /// <summary>
    /// Redis holds, for every kept check's recipients, exactly 1 when it was admitted and not refunded, else 0. Nothing
    /// writes while this runs, so the statuses are read <see cref="StatusReaders"/> at a time (one at a time, the
    /// thousands of reads were most of the suite's slowest test) and asserted in order afterwards.
    /// </summary>
    private static async Task AssertRedisHoldsExactlyAsync(IEmailSendGuard guard, Kept[] kept, HashSet<int> refunded, Func<Kept, bool> counted)
    {
        string[] recipients = [.. kept.SelectMany(k => k.Message.To)];
        EmailGuardStatus[] statuses = new EmailGuardStatus[recipients.Length];
        await Parallel.ForAsync(0, recipients.Length, new ParallelOptions { MaxDegreeOfParallelism = StatusReaders }, async (i, _) =>
            statuses[i] = await ReadStatusAsync(guard, recipients[i]));
        int read = 0;
        foreach (Kept k in kept)
        {
            long expected = counted(k) && !refunded.Contains(k.Index) ? 1 : 0;
            foreach (string to in k.Message.To)
            {
                EmailGuardStatus status = statuses[read++];
                status.Usage.Where(u => u.Dimension == EmailGuardDimension.Recipient).Select(u => u.Count).Should()
                    .Equal([expected], "check {0} ({1}) was {2}", k.Index, k.Decision.Reason, refunded.Contains(k.Index) ? "refunded" : "kept");
            }
        }
    }

    /// <summary>
    /// The recipient's status as Redis holds it. A read is bounded by the guard's timeout, which a loaded machine can
    /// outlast (the status then says the store did not answer, with no usage): such a read is made again.
    /// </summary>
    private static async Task<EmailGuardStatus> ReadStatusAsync(IEmailSendGuard guard, string recipient)
    {
        for (long started = System.Diagnostics.Stopwatch.GetTimestamp(); ; await Task.Delay(20))
        {
            EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { Recipient = recipient });
            if (status.IsStoreAvailable || System.Diagnostics.Stopwatch.GetElapsedTime(started) > s_bound)
            {
                status.IsStoreAvailable.Should().BeTrue("Redis runs, and answers a status read within {0}", s_bound);
                return status;
            }
        }
    }

    /// <summary>
    /// Checks messages of their own (<paramref name="phase"/>) until Redis, not the failure mode, decides one: the lazy
    /// connection is made and the scripts loaded (a cold first call can outlast the timeout on a loaded machine), or the
    /// breaker is closed again after a hang.
    /// </summary>
    private static async Task UntilRedisDecidesAsync(IEmailSendGuard guard, string phase)
    {
        for (int i = 0; ; i++)
        {
            EmailSendDecision decision = await guard.CheckAsync(Message(phase, i));
            if (decision.Reason == EmailSendReason.Allowed && !decision.Acquisition.AdmittedLocally)
            {
                return;
            }

            i.Should().BeLessThan(10_000, "Redis runs again and the breaker closes after its break");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task KeptDecisions_AfterManyConcurrentChecksAndRefunds_EachShowItsOwnAnswer_AndRedisHoldsExactlyWhatWasKept()
    {
        // Arrange
        using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        // Nothing hangs here, so no call may time out: a timeout of its own, far above any healthy call's.
        await using ServiceProvider sp = Build(StoreFailureMode.FailClosed, multiplexer, TimeSpan.FromSeconds(30));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await UntilRedisDecidesAsync(guard, "warm");

        // Act: a first round kept; a second round, and refunds of half the first, from 64 callers at once.
        Kept[] first = await CheckAllAsync(guard, "a");
        Task<Kept[]> second = CheckAllAsync(guard, "b");
        HashSet<int> refunded = await RefundHalfAsync(guard, first);
        Kept[] later = await second;

        // Assert
        first.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => k.Decision.Reason == EmailSendReason.Allowed);
        later.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => k.Decision.Reason == EmailSendReason.Allowed);
        AssertEachShowsItsOwnAnswer(first, countsOnlyGrew: true);
        AssertEachShowsItsOwnAnswer(later, countsOnlyGrew: false);
        await AssertRedisHoldsExactlyAsync(guard, first, refunded, _ => true);
        await AssertRedisHoldsExactlyAsync(guard, later, [], _ => true);
    }

    [Theory]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task ChecksTimingOutAndCancelledWhileRedisHangs_LeaveEveryOtherDecisionItsOwnAnswer_AndRedisExact(StoreFailureMode mode)
    {
        if (!redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS there is no process of ours to freeze.
        }

        // Arrange: a round answered by Redis, kept, once Redis answers (connected, scripts loaded).
        using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        await using ServiceProvider sp = Build(mode, multiplexer, s_timeout);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        ResilientRateLimitStore store = sp.GetRequiredService<ResilientRateLimitStore>();
        await UntilRedisDecidesAsync(guard, "warm");
        Kept[] before = await CheckAllAsync(guard, "a");

        // Act: Redis hangs while 64 callers check in turn: each check times out and its call is abandoned, or is
        // cancelled by its caller mid-flight (every third, once the token fires). Then Redis runs again while the callers
        // go on: the held scripts are answered (and their late admissions given back) as new checks are decided.
        int thawed = 0;
        ConcurrentBag<Kept> during = [];
        using (CancellationTokenSource cancel = new())
        {
            redis.Freeze();
            Task checking;
            try
            {
                cancel.CancelAfter(s_timeout / 2);
                checking = Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
                {
                    int afterThaw = 0;
                    for (int i = c * 1_000; i < (c + 1) * 1_000 && afterThaw < 8; i++)
                    {
                        afterThaw += Volatile.Read(ref thawed);
                        OutboundEmail message = Message("h", i);
                        try
                        {
                            during.Add(new Kept(i, message, await guard.CheckAsync(message, i % 3 == 0 ? cancel.Token : default)));
                        }
                        catch (OperationCanceledException)
                        {
                            during.Add(new Kept(i, message, default, Cancelled: true));
                        }
                    }
                })));
                await Task.Delay(s_timeout * 4);
            }
            finally
            {
                redis.Thaw();
                Volatile.Write(ref thawed, 1);
            }

            await checking.WaitAsync(s_bound);
        }

        Kept[] hung = [.. during.OrderBy(k => k.Index)];
        // Redis answers what it held while a new round checks, and half the first round is refunded.
        await UntilRedisDecidesAsync(guard, "probe");
        Task<Kept[]> afterTask = CheckAllAsync(guard, "z");
        HashSet<int> refunded = await RefundHalfAsync(guard, before);
        Kept[] after = await afterTask;
        await ResilientStoreWaits.SettledAsync(store, s_bound);

        // Assert
        output.WriteLine($"{mode}: hung answers {string.Join(", ", hung.GroupBy(k => k.Decision.Reason).Select(g => $"{g.Key} x{g.Count()}"))}; "
            + $"after {string.Join(", ", after.GroupBy(k => k.Decision.Reason).Select(g => $"{g.Key} x{g.Count()}"))}");
        before.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => k.Decision.Reason == EmailSendReason.Allowed);
        after.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => !k.Cancelled);
        hung.Where(k => k.Cancelled).Should().NotBeEmpty("callers cancelled while their calls hung");
        AssertEachShowsItsOwnAnswer(before, countsOnlyGrew: true);
        AssertEachShowsItsOwnAnswer(after.Where(k => !k.Decision.Acquisition.AdmittedLocally), countsOnlyGrew: false);
        await AssertRedisHoldsExactlyAsync(guard, before, refunded, _ => true);
        await AssertRedisHoldsExactlyAsync(guard, after, [], k => k.Decision.IsAllowed);
        hung.Should().Contain(k => k.Decision.Reason == (mode == StoreFailureMode.FailClosed ? EmailSendReason.StoreUnavailable : EmailSendReason.Allowed)
            && !k.Cancelled && (mode == StoreFailureMode.FailClosed || k.Decision.Acquisition.AdmittedLocally), "checks timed out while Redis hung");
        hung.Should().Contain(k => k.Decision.Reason == EmailSendReason.Allowed && !k.Decision.Acquisition.AdmittedLocally, "checks went on after Redis ran again");
        AssertEachShowsItsOwnAnswer(hung.Where(k => !k.Decision.Acquisition.AdmittedLocally), countsOnlyGrew: false);

        // A caller that cancelled, or was told the store is unavailable, is not charged; a local admission is written back once.
        await AssertRedisHoldsExactlyAsync(guard, hung, [], k => !k.Cancelled && k.Decision.IsAllowed);
    }
}
