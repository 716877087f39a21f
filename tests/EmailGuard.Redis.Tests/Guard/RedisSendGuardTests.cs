using System.Globalization;
using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace EmailGuard.Redis.Tests.Guard;

/// <summary>What only Redis can show: round trips per check, lists and flags shared across instances, no KEYS.</summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisSendGuardTests(RedisServerFixture redis, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(Start);
    private ConnectionMultiplexer Admin => field ??= redis.CreateMultiplexer();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(Admin, _prefix + "c:", RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty();
        (await RedisGuardStateAssertions.KeysWithoutTtlAsync(Admin, _prefix + "s:")).Should().BeEmpty();
    }

    [Fact]
    public async Task Check_TenThousandFullChecks_OneScriptCallEach()
    {
        ConnectionMultiplexer instance = redis.CreateMultiplexer();
        SendGuardHarness guard = Instance(instance, o =>
        {
            RateLimitRule rule = RateLimitRule.PerHour(1_000_000);
            o.Global.Add(rule);
            o.Tenant.Add(rule).Add(RateLimitRule.PerDay(1_000_000));
            o.Sender.Add(rule);
            o.User.Add(rule);
            o.Recipient.Add(rule);
            o.RecipientDomain.Add(rule);
        });
        OutboundEmail[] messages = [.. Enumerable.Range(0, 100).Select(i => new OutboundEmail
        {
            To = [string.Create(CultureInfo.InvariantCulture, $"customer{i}@example{i % 7}.com")],
            Sender = "noreply@app.example",
            TenantId = "acme",
            UserId = "user-42",
        })];
        await guard.Guard.CheckAsync(messages[0]);
        IServer server = Admin.GetServer(Admin.GetEndPoints()[0]);
        Dictionary<string, long> before = await CommandCallsAsync(server);
        long operationsBefore = instance.GetCounters().Interactive.OperationCount;

        for (int i = 0; i < 10_000; i++)
        {
            (await guard.Guard.CheckAsync(messages[i % messages.Length])).IsAllowed.Should().BeTrue();
        }

        Dictionary<string, long> calls = await CommandCallsSinceAsync(server, before);
        long roundTrips = instance.GetCounters().Interactive.OperationCount - operationsBefore;
        output.WriteLine($"client round trips={roundTrips}; server commandstats (script-internal commands included): " + string.Join(", ", calls.Select(c => $"{c.Key}={c.Value}")));
        long scripts = calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval");
        scripts.Should().Be(10_000, "a full check is one script call");
        roundTrips.Should().Be(10_000, "the guard sends nothing but the script, and lists and flags come from the cached view");
        string[] counterCommands = ["get", "set", "incrby", "pexpiretime", "pexpire", "hgetall", "hincrby", "hdel"];
        // The server's statistics also count the keep-alive and housekeeping of every other client connected meanwhile
        // (a PING from an idle multiplexer of another test); none of those reads a list or a flag.
        string[] connectionCommands = ["info", "ping", "echo", "client", "config", "hello", "select", "subscribe", "cluster"];
        calls.Keys.Should().OnlyContain(c => c == "evalsha" || connectionCommands.Contains(c) || counterCommands.Contains(c),
            "every other command is a counter command inside the script: no list or flag is read per check");
    }

    [Fact]
    public async Task Lists_ChangedOnOneInstance_ReachAnotherAtItsFirstRefreshAfterTheInterval()
    {
        SendGuardHarness a = Instance(redis.CreateMultiplexer(), o => o.StateRefreshInterval = TimeSpan.FromSeconds(5));
        SendGuardHarness b = Instance(redis.CreateMultiplexer(), o => o.StateRefreshInterval = TimeSpan.FromSeconds(5));
        OutboundEmail mail = new() { To = ["victim@example.com"], TenantId = "acme" };
        (await b.Guard.CheckAsync(mail)).IsAllowed.Should().BeTrue();

        await a.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com", "complaint", duration: TimeSpan.FromDays(1));
        await a.Flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual);

        (await a.Guard.CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Blocklisted, "the instance that changed the list sees it at once");
        _time.Advance(TimeSpan.FromSeconds(5));

        // The check after the interval is answered from the snapshot it has and starts the refresh in the background.
        (await b.Guard.CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Allowed, "a check never waits for a refresh");
        await b.StateCache.StartRefresh();
        (await b.Guard.CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await b.Guard.CheckAsync(new OutboundEmail { To = ["x@example.com"], TenantId = "trial" })).Reason.Should().Be(EmailSendReason.Suspended);
        (await b.Flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyId = "trial" })).Should().ContainSingle();
        (await b.Lists.ListAsync(new EmailGuardListQuery { Search = "victim" })).Items.Should().ContainSingle().Which.CreatedAt.Should().Be(Start);
    }

    [Fact]
    public async Task Lists_ListingAndLoading_NeverUseKeysOrScan()
    {
        SendGuardHarness guard = Instance(Admin, _ => { });
        for (int i = 0; i < 30; i++)
        {
            await guard.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, $"spam{i}.example", i % 3 == 0 ? "spam_trap" : "abuse", duration: i % 2 == 0 ? TimeSpan.FromHours(1) : null);
        }

        IServer server = Admin.GetServer(Admin.GetEndPoints()[0]);
        Dictionary<string, long> before = await CommandCallsAsync(server);

        EmailGuardListPage page = await guard.Lists.ListAsync(new EmailGuardListQuery { Take = 10, Skip = 10, OrderBy = EmailGuardListOrder.Value, Descending = false });
        IReadOnlyDictionary<string, int> counts = await guard.Lists.CountByReasonAsync(EmailGuardListKind.Blocklist);
        (await guard.Guard.CheckAsync(new OutboundEmail { To = ["a@spam3.example"] })).Reason.Should().Be(EmailSendReason.Blocklisted);

        page.TotalCount.Should().Be(30);
        page.Items.Should().HaveCount(10);
        counts.Should().BeEquivalentTo(new Dictionary<string, int> { ["spam_trap"] = 10, ["abuse"] = 20 });
        Dictionary<string, long> calls = await CommandCallsSinceAsync(server, before);
        calls.Should().NotBeEmpty("the server counts commands (Garnet needs --commandstats-monitor)");
        calls.Keys.Should().NotContain(["keys", "scan"]);
    }

    [Fact]
    public async Task StateStore_EntriesAndFlagsWithExpiry_HaveTtlsAndExpiredOnesStayListable()
    {
        SendGuardHarness guard = Instance(Admin, _ => { });
        await guard.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.User, "u1", "fraud", duration: TimeSpan.FromMinutes(10));
        await guard.Flags.FlagAsync(EmailGuardPartyType.User, "u2", EmailGuardFlagReasons.HighBounceRate, TimeSpan.FromHours(2));
        string root = $"{_prefix}s:{{{_prefix}s:guard}}:";

        TimeSpan? entryTtl = await Admin.GetDatabase().KeyTimeToLiveAsync(root + "l:0:4:u1");
        TimeSpan? flagTtl = await Admin.GetDatabase().KeyTimeToLiveAsync(root + "f:4:high_bounce_rate:u2");

        entryTtl.Should().BeCloseTo(TimeSpan.FromMinutes(10) + IEmailGuardStateStore.ExpiredEntryRetention, TimeSpan.FromMinutes(1));
        flagTtl.Should().BeCloseTo(TimeSpan.FromHours(2), TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromMinutes(11));
        (await guard.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.User, "u1")).Should().BeNull();
        (await guard.Lists.ListAsync(new EmailGuardListQuery { IncludeExpired = true })).Items.Should().ContainSingle();
    }

    private SendGuardHarness Instance(IConnectionMultiplexer multiplexer, Action<SendGuardOptions> configure)
    {
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.FromSeconds(5) };
        configure(options);
        return new SendGuardHarness(
            _time,
            RedisStoreTestBase.CreateStore(multiplexer, _prefix + "c:", _time),
            new RedisEmailGuardStateStore(new RedisConnection(multiplexer, _prefix + "s:"), _time),
            options,
            null);
    }

    /// <summary>
    /// The commands the server ran since <paramref name="before"/>, by a delta of <c>INFO commandstats</c>: Garnet has
    /// no <c>CONFIG RESETSTAT</c>, and a delta leaves the statistics of other tests alone.
    /// </summary>
    private static async Task<Dictionary<string, long>> CommandCallsSinceAsync(IServer server, Dictionary<string, long> before)
        => (await CommandCallsAsync(server))
            .Select(c => (c.Key, Calls: c.Value - before.GetValueOrDefault(c.Key)))
            .Where(c => c.Calls > 0)
            .ToDictionary(c => c.Key, c => c.Calls);

    private static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
    {
        Dictionary<string, long> calls = [];
        foreach (IGrouping<string, KeyValuePair<string, string>> section in await server.InfoAsync("commandstats"))
        {
            foreach (KeyValuePair<string, string> stat in section)
            {
                // cmdstat_evalsha:calls=10000,usec=...
                string name = stat.Key["cmdstat_".Length..];
                string callsField = stat.Value.Split(',')[0];
                calls[name] = long.Parse(callsField["calls=".Length..], CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }
}
