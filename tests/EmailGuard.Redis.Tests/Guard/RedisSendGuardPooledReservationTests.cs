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
/// A reservation runs on the same pooled state as a check (the guard's boxes and buffers, the store call's copies), and
/// waits in Redis for a bucket's slot. 64 callers mix checks and reservations, some while Redis hangs (their calls time
/// out and are abandoned, or are cancelled by their callers), and half of the first round is refunded while a later
/// round runs: every kept decision must still show exactly its own answer (its recipients, tenant, cost, bucket and a
/// slot of its own), and Redis must hold exactly what the callers were told was admitted and not refunded.
/// </summary>
[Collection(RedisFaultCollection.Name)]
public class RedisSendGuardPooledReservationTests(RedisServerFixture redis, ITestOutputHelper output)
{
    private const int Callers = 64;
    private const int ChecksEach = 16;
    private const string Queued = "queued";
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(120);

    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    /// <summary>
    /// Message <paramref name="index"/>: one to three recipients of their own, one of eight tenants; every odd one is a
    /// reservation in the <see cref="Queued"/> category, whose bucket makes it wait.
    /// </summary>
    private static OutboundEmail Message(string phase, int index) => new()
    {
        To = [.. Enumerable.Range(0, 1 + (index % 3)).Select(r => string.Create(CultureInfo.InvariantCulture, $"{phase}{index}x{r}@d{index % 5}.example"))],
        Sender = "noreply@app.example",
        TenantId = string.Create(CultureInfo.InvariantCulture, $"t{index % 8}"),
        Category = IsReservation(index) ? Queued : null,
    };

    private static bool IsReservation(int index) => index % 2 == 1;

    private ServiceProvider Build(StoreFailureMode mode, ConnectionMultiplexer multiplexer)
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
                o.MaxReservationWait = TimeSpan.FromMinutes(1);

                // About a day, centred on now: no window boundary (an hour's, midnight UTC) falls inside the run, so every counter stays in one window.
                o.Global.Add(CenteredWindow.PerDay(RateLimitRule.MaxLimit));
                o.Tenant.Add(CenteredWindow.PerDay(1_000_000));
                o.Recipient.Add(CenteredWindow.PerDay(3));
                o.RecipientDomain.Add(CenteredWindow.PerDay(1_000_000));

                // 1,000 a second (1 ms a permit), a burst of one message: the reservations soon wait, each for a slot of its own.
                o.Categories[Queued] = new SendGuardDimensionOptions().Add(RateLimitRule.TokenBucket(1_000, TimeSpan.FromSeconds(1), 3));
            });
        services.Configure<StoreResilienceOptions>(o =>
        {
            // The breaker never opens: every call while Redis hangs goes to it and is abandoned at its timeout.
            o.Timeout = s_timeout;
            o.ConsecutiveFailureThreshold = 10_000;
            o.MinimumThroughput = 1_000_000;
        });
        return services.BuildServiceProvider();
    }

    /// <summary>Checks or reserves message <paramref name="index"/>, as it says, and keeps the answer.</summary>
    private static async Task<KeptDecision> SendAsync(IEmailSendGuard guard, string phase, int index, CancellationToken cancellationToken)
    {
        OutboundEmail message = Message(phase, index);
        bool reserved = IsReservation(index);
        try
        {
            EmailSendDecision decision = reserved ? await guard.ReserveAsync(message, cancellationToken) : await guard.CheckAsync(message, cancellationToken);
            return new KeptDecision(index, message, decision, reserved);
        }
        catch (OperationCanceledException)
        {
            // Its caller gave up: it has no decision, and must not be charged.
            return new KeptDecision(index, message, default, reserved, cancelled: true);
        }
    }

    /// <summary>64 callers, each sending its messages in turn.</summary>
    private static async Task<KeptDecision[]> SendAllAsync(IEmailSendGuard guard, string phase)
    {
        ConcurrentBag<KeptDecision> kept = [];
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            for (int i = c * ChecksEach; i < (c + 1) * ChecksEach; i++)
            {
                kept.Add(await SendAsync(guard, phase, i, default));
            }
        }))).WaitAsync(s_bound);
        return [.. kept.OrderBy(k => k.Index)];
    }

    /// <summary>Refunds every other admitted decision, checks and reservations alike, from 64 callers at once.</summary>
    private static async Task<HashSet<KeptDecision>> RefundHalfAsync(IEmailSendGuard guard, KeptDecision[] kept)
    {
        KeptDecision[] refunding = [.. kept.Where(k => k.AdmittedByRedis && k.Index % 4 < 2)];
        refunding.Should().OnlyContain(k => k.Decision.IsRefundable).And.Contain(k => k.Reserved).And.Contain(k => !k.Reserved);
        bool[] refunded = await Task.WhenAll(refunding.Select(k => Task.Run(() => guard.RefundAsync(k.Decision).AsTask()))).WaitAsync(s_bound);
        refunded.Should().OnlyContain(r => r, "every admission on Redis is refundable once");
        return [.. refunding];
    }

    /// <summary>
    /// Peeks until Redis answers: the connection is made and the script loaded at the first call, which may take longer
    /// than the timeout, and the local fallback would decide the first round's calls instead.
    /// </summary>
    private static async Task UntilRedisAnswersAsync(IEmailSendGuard guard)
    {
        for (int i = 0; (await guard.PeekAsync(Message("warm", 0))).Reason == EmailSendReason.StoreUnavailable; i++)
        {
            i.Should().BeLessThan(200, "Redis answers once connected");
            await Task.Delay(50);
        }
    }

    [Theory]
    [InlineData(StoreFailureMode.FailClosed)]
    [InlineData(StoreFailureMode.LocalFallback)]
    public async Task ReservationsAndChecks_TimingOutCancelledAndRefundedWhileRedisHangs_EachKeepItsOwnAnswer_AndRedisExact(StoreFailureMode mode)
    {
        if (!redis.CanControlServer)
        {
            return; // Under EMAILGUARD_REDIS there is no process of ours to freeze.
        }

        // Arrange: a round answered by Redis, kept; its reservations soon wait for the bucket.
        using ConnectionMultiplexer multiplexer = redis.CreateMultiplexer();
        await using ServiceProvider sp = Build(mode, multiplexer);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        ResilientRateLimitStore store = sp.GetRequiredService<ResilientRateLimitStore>();
        await UntilRedisAnswersAsync(guard);
        KeptDecision[] before = await SendAllAsync(guard, "a");

        // Act: Redis hangs while 64 callers check and reserve in turn: each call times out and is abandoned, or is
        // cancelled by its caller mid-flight (every third, once the token fires). Then Redis runs again while the callers
        // go on: the held scripts are answered (and their late admissions given back) as new calls are decided.
        int thawed = 0;
        ConcurrentBag<KeptDecision> during = [];
        using (CancellationTokenSource cancel = new())
        {
            redis.Freeze();
            Task sending;
            try
            {
                cancel.CancelAfter(s_timeout / 2);
                sending = Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
                {
                    int afterThaw = 0;
                    for (int i = c * 1_000; i < (c + 1) * 1_000 && afterThaw < 8; i++)
                    {
                        afterThaw += Volatile.Read(ref thawed);
                        during.Add(await SendAsync(guard, "h", i, i % 3 == 0 ? cancel.Token : default));
                    }
                })));
                await Task.Delay(s_timeout * 4);
            }
            finally
            {
                redis.Thaw();
                Volatile.Write(ref thawed, 1);
            }

            await sending.WaitAsync(s_bound);
        }

        // A new round while half the first is refunded, reservations ahead of their slot included.
        KeptDecision[] hung = [.. during.OrderBy(k => k.Index)];
        Task<KeptDecision[]> afterTask = SendAllAsync(guard, "z");
        HashSet<KeptDecision> refunded = await RefundHalfAsync(guard, before);
        KeptDecision[] after = await afterTask;
        await ResilientStoreWaits.SettledAsync(store, s_bound);

        // Assert
        output.WriteLine($"{mode}: hung {Summary(hung)}; after {Summary(after)}; {refunded.Count} refunded");
        before.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => k.AdmittedByRedis);
        before.Should().Contain(k => k.Reserved && k.Decision.Timestamp > k.Decision.Acquisition.DecidedAt, "reservations waited for the bucket");
        after.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => !k.Cancelled);
        hung.Should().Contain(k => k.Cancelled && k.Reserved, "reservations were cancelled while their calls hung")
            .And.Contain(k => k.Cancelled && !k.Reserved, "so were checks");
        hung.Should().Contain(
            k => k.Reserved && !k.Cancelled && (mode == StoreFailureMode.FailClosed ? k.Decision.Reason == EmailSendReason.StoreUnavailable : !k.AdmittedByRedis),
            "reservations timed out while Redis hung");
        hung.Should().Contain(k => k.Reserved && k.AdmittedByRedis, "reservations went on after Redis ran again");
        KeptDecisionAssertions.EachShowsItsOwnAnswer(before, countsOnlyGrew: true, Queued);
        KeptDecisionAssertions.EachShowsItsOwnAnswer(hung, countsOnlyGrew: false, Queued);
        KeptDecisionAssertions.EachShowsItsOwnAnswer(after, countsOnlyGrew: false, Queued);

        // A caller that cancelled, or was told the store is unavailable, is not charged; a local admission is written back once.
        await KeptDecisionAssertions.RedisHoldsExactlyAsync(guard, [.. before, .. hung, .. after], refunded);
    }

    private static string Summary(IEnumerable<KeptDecision> kept)
        => string.Join(", ", kept.GroupBy(k => (k.Reserved ? "reserve" : "check") + ":" + (k.Cancelled ? "Cancelled" : k.Decision.Reason.ToString()))
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"));
}
