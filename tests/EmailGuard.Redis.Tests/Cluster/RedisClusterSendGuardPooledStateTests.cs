using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using EmailGuard.Redis.Tests.Guard;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A check's pooled state on a cluster, where a check's counters lie on several masters and each master answers in its
/// own time: a reply that came late and was written into a caller's arrays after the caller moved on (to another
/// check's buffers, or a pooled copy handed to another call) would show here first. 64 callers check at once; half of
/// the messages keep off one master, the other half count a tenant on it. That master hangs (<c>SIGSTOP</c>) for part
/// of the run, so its calls time out or are cancelled while the other masters go on answering; then it runs again
/// while a new round checks and half of the first is refunded. Every kept decision must still show exactly its own
/// answer, and every master must hold exactly what the callers were told was admitted and not refunded.
/// </summary>
[Collection(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterSendGuardPooledStateTests(RedisFaultClusterFixture cluster, ITestOutputHelper output) : RedisFaultClusterTestBase(cluster)
{
    private const int Callers = 64;
    private const int ChecksEach = 8;

    /// <summary>Long enough that no call times out while every master answers, on a loaded machine too.</summary>
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(1);

    /// <summary>Longer than the timeout: the least time the master hangs.</summary>
    private static readonly TimeSpan s_pause = TimeSpan.FromMilliseconds(1600);

    /// <summary>
    /// The longest the master may hang: until the checks on it have timed out and been cancelled. Shorter than the
    /// connection's own timeout (10 s), so that every command held by the hung master is answered once it runs again.
    /// </summary>
    private static readonly TimeSpan s_pauseBound = TimeSpan.FromSeconds(8);

    /// <summary>
    /// The masters' node timeout while one hangs: far longer than <see cref="s_pauseBound"/>, so the hung master is never
    /// flagged as failed (the fault cluster's own 2 s would flag a hang that a loaded machine stretched).
    /// </summary>
    private static readonly TimeSpan s_nodeTimeoutWhilePaused = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(120);
    private static readonly RateLimitRule s_global = CenteredWindow.PerDay(RateLimitRule.MaxLimit);
    private static readonly RateLimitRule s_tenant = CenteredWindow.PerDay(1_000_000);
    private static readonly RateLimitRule s_recipient = CenteredWindow.PerDay(3);
    private static readonly RateLimitRule s_domain = CenteredWindow.PerDay(1_000_000);

    private readonly AddressKeyCache _addresses = new(new SendGuardOptions().AddressNormalization);
    private RedisRateLimitStore _store = null!;
    private EmailGuardFeedback? _feedback;
    private ClusterConfiguration _map = null!;
    private EndPoint _paused = null!;
    private string[] _keepOff = [];
    private string[] _onPaused = [];
    private string[] _domainsOff = [];
    private string[] _domainsAll = [];
    private string? _nodeTimeout;

    public override async Task DisposeAsync()
    {
        // Set back once the run is over, not as the master runs again: a master that read the old timeout before its
        // first reply from the hung one would flag it failing.
        if (_nodeTimeout is not null)
        {
            await SetNodeTimeoutAsync(_nodeTimeout);
        }

        await base.DisposeAsync();
    }

    private ServiceProvider Build(bool batchAcrossKeys)
    {
        ConnectionMultiplexer multiplexer = Cluster.CreateMultiplexer();
        ServiceCollection services = new();
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = Prefix;
                o.BatchAcrossKeys = batchAcrossKeys;
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            })
            .AddSendGuard(o =>
            {
                o.FailureMode = StoreFailureMode.FailClosed;
                o.StateRefreshInterval = TimeSpan.FromHours(1);
                o.Global.Add(s_global);
                o.Tenant.Add(s_tenant);
                o.Recipient.Add(s_recipient);
                o.RecipientDomain.Add(s_domain);
            });
        services.Configure<StoreResilienceOptions>(o =>
        {
            // The breaker never opens: every call to the hung master is abandoned at its timeout.
            o.Timeout = s_timeout;
            o.ConsecutiveFailureThreshold = 10_000;
            o.MinimumThroughput = 1_000_000;
        });
        return services.BuildServiceProvider();
    }

    private EndPoint MasterOf(string partition, RateLimitRule rule) => _map.GetBySlot(Admin.HashSlot(_store.CounterKey(partition, rule)))!.EndPoint!;

    /// <summary>
    /// The masters a check of <paramref name="message"/> counts on: its rules' counters, and the ratio breakers' send
    /// counts that ride in the same acquire (global, and the tenant's).
    /// </summary>
    private HashSet<EndPoint> MastersOf(OutboundEmail message)
    {
        HashSet<EndPoint> masters = [MasterOf(PartitionKeys.Global, s_global)];
        if (message.TenantId is { } tenant)
        {
            masters.Add(MasterOf(PartitionKeys.ForId(PartitionKeys.TenantPrefix, tenant), s_tenant));
        }

        foreach (string to in message.To)
        {
            masters.Add(MasterOf(_addresses.Get(to).RecipientKey, s_recipient));
            masters.Add(MasterOf(_addresses.Get(to).DomainKey, s_domain));
        }

        RateLimitRequest[] sends = new RateLimitRequest[EmailGuardFeedback.MaxSendCounts];
        int count = _feedback?.WriteSendCounts(message, null, null, null, message.To.Count, sends) ?? 0;
        foreach (RateLimitRequest send in sends.AsSpan(0, count))
        {
            masters.Add(MasterOf(send.Key, send.Rule));
        }

        return masters;
    }

    /// <summary>
    /// Places the parties: the paused master serves none of the counters every check takes (global, and its send
    /// count), nor the tenants, domains and recipients of the messages that keep off it; those lie on the other masters.
    /// </summary>
    private void Place()
    {
        _map = Admin.GetServers().First(s => s.IsConnected).ClusterConfiguration!;
        EndPoint[] masters = [.. _map.Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0).Select(n => n.EndPoint!)];
        HashSet<EndPoint> everyCheck = MastersOf(new OutboundEmail { To = [] });
        _paused = masters.FirstOrDefault(m => !everyCheck.Contains(m))!;
        _paused.Should().NotBeNull("the counters every check takes ({0}) must leave a master free to pause", string.Join(", ", everyCheck));
        string[] tenants = [.. Enumerable.Range(0, 400).Select(i => string.Create(CultureInfo.InvariantCulture, $"t{i}"))];
        _keepOff = [.. tenants.Where(t => !MastersOf(new OutboundEmail { To = [], TenantId = t }).Contains(_paused)).Take(4)];
        _onPaused = [.. tenants.Where(t => MasterOf(PartitionKeys.ForId(PartitionKeys.TenantPrefix, t), s_tenant).Equals(_paused)).Take(4)];
        string[] domains = [.. Enumerable.Range(0, 200).Select(i => string.Create(CultureInfo.InvariantCulture, $"d{i}.example"))];
        _domainsOff = [.. domains.Where(d => !MasterOf(_addresses.Get("x@" + d).DomainKey, s_domain).Equals(_paused)).Take(3)];
        _domainsAll = [.. _domainsOff, .. domains.Where(d => MasterOf(_addresses.Get("x@" + d).DomainKey, s_domain).Equals(_paused)).Take(2)];
        _keepOff.Should().HaveCount(4);
        _onPaused.Should().HaveCount(4);
        _domainsAll.Should().HaveCount(5);
    }

    /// <summary>Whether message <paramref name="index"/> keeps off the paused master; the others count a tenant on it.</summary>
    private static bool KeepsOff(int index) => index % 2 == 0;

    /// <summary>Message <paramref name="index"/>: one to three recipients of its own, one of eight tenants, placed as <see cref="Place"/> says.</summary>
    private OutboundEmail Message(string phase, int index)
    {
        bool keepOff = KeepsOff(index);
        string domain = keepOff ? _domainsOff[index % _domainsOff.Length] : _domainsAll[index % _domainsAll.Length];
        List<string> to = [];
        for (int r = 0, k = 0; to.Count <= index % 3; k++)
        {
            string address = string.Create(CultureInfo.InvariantCulture, $"{phase}{index}x{r}k{k}@{domain}");
            if (!keepOff || !MasterOf(_addresses.Get(address).RecipientKey, s_recipient).Equals(_paused))
            {
                to.Add(address);
                r++;
            }
        }

        // No sender: its send count would be one more counter every check takes.
        return new OutboundEmail
        {
            To = to,
            TenantId = keepOff ? _keepOff[(index / 2) % _keepOff.Length] : _onPaused[(index / 2) % _onPaused.Length],
        };
    }

    private async Task<KeptDecision> CheckAsync(IEmailSendGuard guard, string phase, int index, CancellationToken cancellationToken)
    {
        OutboundEmail message = Message(phase, index);
        try
        {
            return new KeptDecision(index, message, await guard.CheckAsync(message, cancellationToken));
        }
        catch (OperationCanceledException)
        {
            return new KeptDecision(index, message, default, cancelled: true);
        }
    }

    private async Task<KeptDecision[]> CheckAllAsync(IEmailSendGuard guard, string phase)
    {
        ConcurrentBag<KeptDecision> kept = [];
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            for (int i = c * ChecksEach; i < (c + 1) * ChecksEach; i++)
            {
                kept.Add(await CheckAsync(guard, phase, i, default));
            }
        }))).WaitAsync(s_bound);
        return [.. kept.OrderBy(k => k.Index)];
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ChecksOnSeveralMasters_OneMasterHangs_EachKeepsItsOwnAnswer_AndEveryMasterHoldsExactlyWhatWasKept(bool nodeByNode)
    {
        if (!Cluster.CanControlNodes)
        {
            return; // Under EMAILGUARD_REDIS_CLUSTER there is no process of ours to freeze.
        }

        // Arrange: node by node (batched) or slot by slot; a first round, every master answering.
        await using ServiceProvider sp = Build(nodeByNode);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        ResilientRateLimitStore resilient = sp.GetRequiredService<ResilientRateLimitStore>();
        _store = (RedisRateLimitStore)resilient.Store;
        _feedback = sp.GetService<EmailGuardFeedback>();

        // A first peek straight to the store (no timeout), over keys on every master, connects the instance, which is
        // lazy, and loads its scripts: under four CPU hogs the cold connection took longer than the 1 s timeout, and the
        // guard's first peek below answered StoreUnavailable.
        await _store.PeekAsync(Enumerable.Range(0, 16).Select(i => new RateLimitRequest(string.Create(CultureInfo.InvariantCulture, $"warm{i}"), s_recipient, 0)).ToArray(), default);
        (await guard.PeekAsync(new OutboundEmail { To = ["warm@d0.example"], TenantId = "warm" })).Reason.Should().NotBe(EmailSendReason.StoreUnavailable);
        await _store.NodeScriptsDetectedAsync();
        (_store.NodeBatcher is not null).Should().Be(nodeByNode);
        Place();
        KeptDecision[] before = await CheckAllAsync(guard, "a");

        // Act: one master hangs while 64 callers check in turn. The checks that count on it time out and are abandoned,
        // or are cancelled by their callers (every third, once the token fires); the others are answered by the other
        // masters meanwhile. Then it runs again while the callers go on, and its held replies come in among theirs.
        int resumed = 0;
        ConcurrentBag<KeptDecision> during = [];
        ConcurrentBag<KeptDecision> whilePaused = [];
        TimeSpan hungFor;
        _nodeTimeout = await SetNodeTimeoutAsync(((long)s_nodeTimeoutWhilePaused.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
        using (CancellationTokenSource cancel = new())
        {
            Cluster.PauseNode(_paused);
            long pausedAt = Stopwatch.GetTimestamp();
            Task checking;
            try
            {
                cancel.CancelAfter(s_timeout / 2);
                checking = Task.WhenAll(Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
                {
                    int afterResume = 0;
                    for (int i = c * 1_000; i < (c + 1) * 1_000 && afterResume < 4; i++)
                    {
                        afterResume += Volatile.Read(ref resumed);
                        KeptDecision kept = await CheckAsync(guard, "h", i, i % 3 == 0 ? cancel.Token : default);
                        during.Add(kept);
                        if (Volatile.Read(ref resumed) == 0)
                        {
                            whilePaused.Add(kept);
                        }
                    }
                })));
                // The master hangs for that time at least, and then until what is asserted of its hang has happened: a
                // loaded machine can start the checks on it late, and one that starts later than the time less the
                // timeout (1.6 s less 1 s) does not time out while it hangs.
                await Task.Delay(s_pause);
                await WaitUntilAsync(() => TimedOutAndCancelled(whilePaused), s_pauseBound);
            }
            finally
            {
                // Set before the master runs again, so that no answer of its can be taken for one given while it hung.
                Volatile.Write(ref resumed, 1);
                Cluster.ResumeNode(_paused);
                hungFor = Stopwatch.GetElapsedTime(pausedAt);
            }

            await checking.WaitAsync(s_bound);
        }

        KeptDecision[] hung = [.. during.OrderBy(k => k.Index)];
        hung.Where(k => KeepsOff(k.Index)).Should().OnlyContain(k => !MastersOf(k.Message).Contains(_paused), "the test placed them off the paused master");
        Task<KeptDecision[]> afterTask = CheckAllAsync(guard, "z");
        KeptDecision[] refunding = [.. before.Where(k => k.Index % 4 < 2)];
        bool[] refunds = await Task.WhenAll(refunding.Select(k => Task.Run(() => guard.RefundAsync(k.Decision).AsTask()))).WaitAsync(s_bound);
        KeptDecision[] after = await afterTask;
        await resilient.CancelledCallsSettledAsync().WaitAsync(s_bound);
        await _store.SettledAsync().WaitAsync(s_bound);

        // Assert
        output.WriteLine($"node by node {nodeByNode}: hung for {hungFor.TotalMilliseconds:0} ms; while paused {Summary(whilePaused)}; hung {Summary(hung)}; after {Summary(after)}");
        before.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => k.AdmittedByRedis);
        refunds.Should().OnlyContain(r => r, "every admission on Redis is refundable once");
        after.Should().HaveCount(Callers * ChecksEach).And.OnlyContain(k => k.AdmittedByRedis, "every master answers again");
        whilePaused.Should().Contain(k => KeepsOff(k.Index) && k.AdmittedByRedis, "the other masters answered while one hung")
            .And.Contain(k => !KeepsOff(k.Index) && k.Decision.Reason == EmailSendReason.StoreUnavailable, "checks on the hung master timed out")
            .And.Contain(k => !KeepsOff(k.Index) && k.Cancelled, "and were cancelled by their callers");
        whilePaused.Should().NotContain(k => !KeepsOff(k.Index) && k.AdmittedByRedis, "the hung master answered nothing");
        KeptDecisionAssertions.EachShowsItsOwnAnswer(before, countsOnlyGrew: true);
        KeptDecisionAssertions.EachShowsItsOwnAnswer(hung, countsOnlyGrew: false);
        KeptDecisionAssertions.EachShowsItsOwnAnswer(after, countsOnlyGrew: false);
        KeptDecision[] all = [.. before, .. hung, .. after];
        await KeptDecisionAssertions.RedisHoldsExactlyAsync(guard, all, new HashSet<KeptDecision>(refunding));

        // The counters read above lie on every master, the paused one included.
        all.Where(k => k.Charged).SelectMany(k => k.Message.To.Select(to => MasterOf(_addresses.Get(to).RecipientKey, s_recipient))
            .Append(MasterOf(PartitionKeys.ForId(PartitionKeys.TenantPrefix, k.Message.TenantId!), s_tenant))).Distinct().Should().HaveCount(3);
    }

    /// <summary>Whether, while the master hung, the other masters answered, and checks on it timed out and were cancelled.</summary>
    private static bool TimedOutAndCancelled(IEnumerable<KeptDecision> whilePaused)
    {
        KeptDecision[] kept = [.. whilePaused];
        return kept.Any(k => KeepsOff(k.Index) && k.AdmittedByRedis)
            && kept.Any(k => !KeepsOff(k.Index) && k.Decision.Reason == EmailSendReason.StoreUnavailable)
            && kept.Any(k => !KeepsOff(k.Index) && k.Cancelled);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan bound)
    {
        for (long started = Stopwatch.GetTimestamp(); !condition() && Stopwatch.GetElapsedTime(started) < bound;)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
    }

    /// <summary>Sets every master's <c>cluster-node-timeout</c> (milliseconds); returns the value it had.</summary>
    private async Task<string> SetNodeTimeoutAsync(string milliseconds)
    {
        IServer[] masters = Admin.GetServers();
        string before = (await masters[0].ConfigGetAsync("cluster-node-timeout")).Single().Value;
        foreach (IServer master in masters)
        {
            await master.ConfigSetAsync("cluster-node-timeout", milliseconds);
        }

        return before;
    }

    private static string Summary(IEnumerable<KeptDecision> kept)
        => string.Join(", ", kept.GroupBy(k => (KeepsOff(k.Index) ? "off" : "on") + ":" + (k.Cancelled ? "Cancelled" : k.Decision.Reason.ToString()))
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} x{g.Count()}"));
}
