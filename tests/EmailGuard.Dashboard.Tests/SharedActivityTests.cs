using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Two app instances behind one dashboard: each publishes its recent activity to the shared key-value store, and
/// either instance's dashboard shows both instances' top parties, totals, policies and events.
/// </summary>
public sealed class SharedActivityTests
{
    private const string Hostile = "\"><img src=x onerror=alert(7)>";

    [Fact]
    public async Task Overview_OnEitherInstance_SumsBothInstancesActivity()
    {
        // Arrange: tenant "alpha" sends through the first instance, "beta" through the second, "both" through both.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost first = await StartAsync(time, shared);
        await using DashboardHost second = await StartAsync(time, shared);
        await SendAsync(first, "alpha", 2);
        await SendAsync(first, "both", 1);
        await SendAsync(second, "beta", 5);
        await SendAsync(second, "both", 2);

        // Act: the second publishes (its background publisher would, within 15 s); the first renders.
        await second.Services.GetRequiredService<ActivityExchange>().PublishAsync(default);
        string html = await first.Client().GetStringAsync("/emailguard/");

        // Assert: 3 + 7 checks; beta's 5 include 2 denials (3 per hour per tenant).
        html.Should().Contain("<span id=\"instances\">2</span>");
        html.Should().Contain("<span id=\"checks\">10</span>").And.Contain("<span id=\"denials\">2</span>");
        html.Should().Contain(">alpha<").And.Contain(">beta<").And.Contain(">both<");
        (await TopOfAsync(first, ActivityDimension.Tenant)).Should().Contain(new TopParty("both", 3, 0), "a party's counts add up over the instances");
    }

    [Fact]
    public async Task EventsAndPolicies_OfTheOtherInstance_ShowWhereTheyCameFrom_Escaped()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost first = await StartAsync(time, shared);
        await using DashboardHost second = await StartAsync(time, shared);
        EmailGuardMonitor monitor = second.Services.GetRequiredService<EmailGuardMonitor>();
        monitor.Events.Add(new DashboardEvent(time.GetUtcNow(), DashboardEventKinds.BreakerTripped, "surge on " + Hostile, Hostile));
        monitor.Activity.RecordPolicyDecision("signup" + Hostile, "rejected");
        ActivityExchange exchange = second.Services.GetRequiredService<ActivityExchange>();

        await exchange.PublishAsync(default);
        string events = await first.Client().GetStringAsync("/emailguard/events");
        string policies = await first.Client().GetStringAsync("/emailguard/policies");

        events.Should().Contain($"instance {exchange.InstanceId[..8]}").And.Contain("surge on &quot;&gt;&lt;img src=x onerror=alert(7)&gt;");
        events.Should().NotContain("<img src=x");
        policies.Should().Contain("signup&quot;&gt;&lt;img").And.NotContain("<img src=x");
    }

    [Fact]
    public async Task APublishWhileAnotherIsStillWriting_WritesAfterIt_SoTheNewerSnapshotStays()
    {
        // The publisher's tick and a publish on demand, or a tick and a store slow to answer: the publish that captured
        // first must not write last, putting back a snapshot older than the one just written.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost host = await StartAsync(time, new SharedStore(time));
        EmailGuardMonitor monitor = host.Services.GetRequiredService<EmailGuardMonitor>();
        ActivityExchange exchange = ExchangeOn(shared, monitor, time);
        TaskCompletionSource slowStore = new(TaskCreationOptions.RunContinuationsAsynchronously);

        shared.Hold = slowStore.Task;
        Task older = exchange.PublishAsync(default);
        monitor.Activity.RecordPolicyDecision("late-policy", "rejected");
        shared.Hold = null;
        Task newer = exchange.PublishAsync(default);
        slowStore.SetResult();
        await Task.WhenAll(older, newer).WaitAsync(TimeSpan.FromSeconds(30));

        shared.Peek($"emailguard:dashboard:{exchange.InstanceId}:{ActivitySnapshot.PoliciesPart}").Should().Contain("late-policy");
    }

    [Fact]
    public async Task AnInstanceThatStopsPublishing_IsForgottenAfterTheTimeToLive()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost first = await StartAsync(time, shared);
        DashboardHost second = await StartAsync(time, shared);
        await SendAsync(second, "beta", 1);
        await second.Services.GetRequiredService<ActivityExchange>().PublishAsync(default);
        (await TopOfAsync(first, ActivityDimension.Tenant)).Should().ContainSingle(p => p.Key == "beta");

        // The second instance stops (its publisher with it); a running one would have republished on the tick.
        await second.DisposeAsync();
        time.Advance(ActivityExchange.TimeToLive + TimeSpan.FromSeconds(1));

        (await TopOfAsync(first, ActivityDimension.Tenant)).Should().NotContain(p => p.Key == "beta");
    }

    [Fact]
    public async Task StopAsync_GivesUpTheSlot_SoTheOtherInstancesStopShowingItAtOnce()
    {
        // An instance that stopped stayed on every other dashboard until its slot expired (45 s), its activity with it.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost first = await StartAsync(time, shared);
        DashboardHost second = await StartAsync(time, shared);
        ActivityExchange exchange = second.Services.GetRequiredService<ActivityExchange>();
        await SendAsync(second, "beta", 1);
        await exchange.PublishAsync(default);
        (await TopOfAsync(first, ActivityDimension.Tenant)).Should().ContainSingle(p => p.Key == "beta");

        await second.App.StopAsync();

        shared.Live.Should().NotContain(v => v.Key.Contains(":slot:", StringComparison.Ordinal) && v.Value == exchange.InstanceId, "the slot was given up, the clock not moved");
        (await TopOfAsync(first, ActivityDimension.Tenant)).Should().NotContain(p => p.Key == "beta");
        string html = await first.Client().GetStringAsync("/emailguard/");
        html.Should().Contain("<span id=\"instances\">1</span>");
        await second.App.DisposeAsync();
    }

    [Fact]
    public async Task LeaveAsync_WhileAPublishIsStillWriting_ThePublishDoesNotClaimTheSlotAgain()
    {
        // A publish whose writes are slow when shutdown begins: LeaveAsync's wait for it is bounded (here the host's
        // shutdown cancelled it at once), so it gives up the slot while the publish's renewal of it is on its way. The
        // renewal then wrote the slot back, and every other dashboard showed the stopped instance until it expired (45 s).
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost host = await StartAsync(time, new SharedStore(time));
        EmailGuardMonitor monitor = host.Services.GetRequiredService<EmailGuardMonitor>();
        ActivityExchange exchange = ExchangeOn(shared, monitor, time);
        TaskCompletionSource slowStore = new(TaskCreationOptions.RunContinuationsAsynchronously);
        shared.Hold = slowStore.Task;
        Task publishing = exchange.PublishAsync(default);
        using CancellationTokenSource shutdown = new();
        await shutdown.CancelAsync();

        await exchange.LeaveAsync(shutdown.Token);
        shared.Live.Should().NotContain(v => v.Value == exchange.InstanceId && v.Key.Contains(":slot:", StringComparison.Ordinal), "the slot was given up");
        shared.Hold = null;
        slowStore.SetResult();
        await publishing.WaitAsync(TimeSpan.FromSeconds(30));

        shared.Live.Should().NotContain(v => v.Value == exchange.InstanceId && v.Key.Contains(":slot:", StringComparison.Ordinal), "the clock did not move, and no slot came back");
    }

    [Fact]
    public async Task LeaveAsync_AfterThePublishersStopCancelledAPublishWhoseWritesAreOnTheirWay_TheSlotDoesNotComeBack()
    {
        // As the publisher stops: its loop's token is cancelled first, so a publish whose writes are slow stops waiting
        // for them at once, and LeaveAsync found no publish to wait for; the renewal of the slot, still on its way,
        // landed after the slot was given up, and the others showed the stopped instance until it expired (45 s).
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost host = await StartAsync(time, new SharedStore(time));
        ActivityExchange exchange = new(
            shared, host.Services.GetRequiredService<EmailGuardMonitor>(), time, Options.Create(new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(30) }), NullLogger<ActivityExchange>.Instance);
        TaskCompletionSource slowStore = new(TaskCreationOptions.RunContinuationsAsynchronously);
        shared.Hold = slowStore.Task;
        using CancellationTokenSource stopping = new();
        Task publishing = exchange.TryPublishAsync(stopping.Token);
        await stopping.CancelAsync();
        await publishing.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        publishing.IsCanceled.Should().BeTrue("the publisher's stop cancels the publish in flight");

        // Act: the app stops; the store answers the writes it was slow with.
        Task leaving = exchange.LeaveAsync(default);
        shared.Hold = null;
        slowStore.SetResult();
        await leaving.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => shared.Landed.Any(k => k.Contains(":slot:", StringComparison.Ordinal)));

        // Assert
        shared.Live.Should().NotContain(v => v.Value == exchange.InstanceId && v.Key.Contains(":slot:", StringComparison.Ordinal), "the clock did not move, and the slot was given up");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (int i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        condition().Should().BeTrue();
    }

    [Fact]
    public async Task StopAsync_SlotTakenByAnotherInstanceSince_LeavesItTheirs()
    {
        // This instance's slot expired (a store that did not answer its renewals) and another instance claimed it, here
        // written straight in, the clock left alone so that no tick renews it: the release removes only this instance's
        // own id, never the value another instance holds.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        DashboardHost host = await StartAsync(time, shared);
        ActivityExchange exchange = host.Services.GetRequiredService<ActivityExchange>();
        await exchange.PublishAsync(default);
        string slot = shared.Live.Single(v => v.Value == exchange.InstanceId && v.Key.Contains(":slot:", StringComparison.Ordinal)).Key;
        string other = Guid.NewGuid().ToString("N");
        await shared.SetAsync(slot, other, ActivityExchange.TimeToLive);

        await host.App.StopAsync();

        shared.Peek(slot).Should().Be(other);
        await host.App.DisposeAsync();
    }

    [Fact]
    public async Task StopAsync_StoreHung_ShutdownIsBoundedByTheStoreTimeout()
    {
        // A store that never answers, and ignores cancellation, must not hold the app's shutdown: the host's own
        // shutdown timeout is set to ten minutes here, so only the store timeout (250 ms) can bound the release.
        SharedStore shared = new(TimeProvider.System);
        DashboardHost host = await DashboardHost.StartAsync(services: s =>
        {
            s.AddSingleton<IEmailGuardKeyValueStore>(shared);
            s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromMilliseconds(250));
            s.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(10));
        });
        await host.Services.GetRequiredService<ActivityExchange>().PublishAsync(default);
        shared.Hang = true;

        Task stop = host.App.StopAsync();

        // Generous: 120 times the timeout, for a shared and loaded machine; the release waits at most about twice it.
        (await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(30)))).Should().BeSameAs(stop, "shutdown must not wait on a hung store");
        await stop;
        shared.Removes.Should().BeGreaterThan(0, "the release was tried");
        await host.App.DisposeAsync();
    }

    [Fact]
    public async Task AllSlotsHeld_OrForgedSlotValues_NothingBreaks_AndNothingForeignIsRead()
    {
        // An attacker with write access to the store could fill the slots; a slot value that is not an instance id
        // names no key, and a full house only costs this instance its publishing.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        for (int slot = 0; slot < ActivityExchange.MaxInstances; slot++)
        {
            await shared.SetAsync($"emailguard:dashboard:slot:{slot}", slot == 0 ? "../../etc/passwd" : Guid.NewGuid().ToString("N"), TimeSpan.FromHours(1));
        }

        await using DashboardHost host = await StartAsync(time, shared);
        ActivityExchange exchange = host.Services.GetRequiredService<ActivityExchange>();

        await exchange.PublishAsync(default);
        using HttpResponseMessage overview = await host.Client().GetAsync("/emailguard/");

        overview.StatusCode.Should().Be(HttpStatusCode.OK);
        shared.Keys.Should().NotContain(k => k.Contains(exchange.InstanceId, StringComparison.Ordinal), "no slot was free, so nothing was published");
        shared.Reads.Should().NotContain(k => k.Contains("passwd", StringComparison.Ordinal));
        (await overview.Content.ReadAsStringAsync()).Should().Contain("<span id=\"instances\">32</span>", "31 valid ids hold slots; their snapshots are empty");
    }

    [Fact]
    public async Task StoreFailing_PagesStillRender_WithThisInstanceAndANote()
    {
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero));
        SharedStore shared = new(time);
        await using DashboardHost host = await StartAsync(time, shared);
        await SendAsync(host, "alpha", 1);
        shared.Fail = true;

        await host.Services.GetRequiredService<ActivityExchange>().TryPublishAsync(default);
        string overview = await host.Client().GetStringAsync("/emailguard/");
        string events = await host.Client().GetStringAsync("/emailguard/events");

        overview.Should().Contain(">alpha<").And.Contain("could not be read from the store (InvalidOperationException)");
        events.Should().Contain("could not be read from the store");
    }

    [Fact]
    public async Task Publish_OnTheBuiltInKeyValueStore_IsAccepted()
    {
        // The built-in stores enforce the documented contract (printable ASCII values): a snapshot must pass it.
        await using DashboardHost host = await DashboardHost.StartAsync();
        await SendAsync(host, "alpha, \"quoted\" <tenant>", 3);
        host.Services.GetRequiredService<EmailGuardMonitor>().Events.Add(new DashboardEvent(DateTimeOffset.UtcNow, DashboardEventKinds.StoreOutage, "line one\nline two", "tab\there"));

        Func<Task> publish = () => host.Services.GetRequiredService<ActivityExchange>().PublishAsync(default);

        await publish.Should().NotThrowAsync();
    }

    [Fact]
    public void Snapshot_WithNamesOfEveryKind_RoundTripsAndStaysWithinTheValueLimit()
    {
        ActivitySnapshot snapshot = new() { InstanceId = Guid.NewGuid().ToString("N") };
        string[] names = ["plain", "a,b\nc", "ünïcødé", "%41", "lone \ud800 surrogate", new string('x', 5_000)];
        snapshot.Top[(ActivityDimension.Tenant, false)] = [.. names.Select((n, i) => new TopParty(n, 100 - i, i))];
        snapshot.Checks = 7;
        snapshot.Denials = 3;
        snapshot.Reasons["LimitExceeded (Tenant)"] = 3;
        snapshot.Events.Add(new DashboardEvent(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), "breaker_tripped", "a,b", null));

        Dictionary<string, string?> parts = snapshot.Encode().ToDictionary(p => p.Part, p => (string?)p.Value);
        ActivitySnapshot read = ActivitySnapshot.Decode(snapshot.InstanceId, parts);

        parts.Values.Should().OnlyContain(v => v!.Length <= ActivitySnapshot.MaxValueLength && v.All(IsPrintableAscii));
        read.Top[(ActivityDimension.Tenant, false)].Select(p => p.Key).Should().Equal("plain", "a,b\nc", "ünïcødé", "%41", "lone \ufffd surrogate");
        (read.Checks, read.Denials, read.Reasons["LimitExceeded (Tenant)"]).Should().Be((7, 3, 3));
        read.Events.Should().Equal(snapshot.Events);
        ActivitySnapshot.Decode(Guid.NewGuid().ToString("N"), parts).Top[(ActivityDimension.Tenant, false)].Should().BeEmpty("parts carry their instance's id");
    }

    private static bool IsPrintableAscii(char c) => c is >= ' ' and <= '~';

    /// <summary>An exchange of its own on <paramref name="shared"/>, beside the host's, with a store timeout long enough never to run out here.</summary>
    private static ActivityExchange ExchangeOn(SharedStore shared, EmailGuardMonitor monitor, FakeTimeProvider time) => new(
        shared, monitor, time, Options.Create(new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(30) }), NullLogger<ActivityExchange>.Instance);

    private static Task<DashboardHost> StartAsync(FakeTimeProvider time, SharedStore shared)
        => DashboardHost.StartAsync(time: time, services: s => s.AddSingleton<IEmailGuardKeyValueStore>(shared));

    private static async Task SendAsync(DashboardHost host, string tenant, int count)
    {
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < count; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = tenant, UserId = tenant + ":u", Category = "share" });
        }
    }

    private static async Task<IReadOnlyList<TopParty>> TopOfAsync(DashboardHost host, ActivityDimension dimension)
        => (await host.Services.GetRequiredService<ActivityExchange>().ReadAsync(default)).Top(dimension, denials: false, 10);

    /// <summary>One key-value store for both instances, as Redis would be, on the fake clock; it can be made to fail.</summary>
    private sealed class SharedStore(TimeProvider time) : IEmailGuardKeyValueStore
    {
        private readonly ConcurrentDictionary<string, (string Value, DateTimeOffset Until)> _values = new(StringComparer.Ordinal);
        private readonly TaskCompletionSource _never = new();
        private int _removes;

        public bool Fail { get; set; }

        /// <summary>While set, writes wait for it, as a store slow to answer.</summary>
        public Task? Hold { get; set; }

        /// <summary>While set, every call waits for ever, ignoring its cancellation: a store that stopped answering.</summary>
        public bool Hang { get; set; }

        public ConcurrentQueue<string> Reads { get; } = new();

        /// <summary>The keys of the writes that waited for <see cref="Hold"/>, as each lands.</summary>
        public ConcurrentQueue<string> Landed { get; } = new();

        public int Removes => _removes;

        public IEnumerable<string> Keys => _values.Keys;

        /// <summary>The live values, by key.</summary>
        public IEnumerable<KeyValuePair<string, string>> Live
            => [.. _values.Where(v => v.Value.Until > time.GetUtcNow()).Select(v => KeyValuePair.Create(v.Key, v.Value.Value))];

        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            if (Hang)
            {
                return new ValueTask(_never.Task);
            }

            ThrowIfFailing();
            CheckContract(key, value);
            if (Hold is { } hold)
            {
                return new ValueTask(hold.ContinueWith(
                    _ =>
                    {
                        _values[key] = (value, time.GetUtcNow() + timeToLive);
                        Landed.Enqueue(key);
                    },
                    TaskScheduler.Default));
            }

            _values[key] = (value, time.GetUtcNow() + timeToLive);
            return ValueTask.CompletedTask;
        }

        public string? Peek(string key) => _values.TryGetValue(key, out (string Value, DateTimeOffset Until) entry) ? entry.Value : null;

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default)
        {
            if (Hang)
            {
                return new ValueTask<string?>(_never.Task.ContinueWith(_ => (string?)null, TaskScheduler.Default));
            }

            ThrowIfFailing();
            Reads.Enqueue(key);
            return ValueTask.FromResult(_values.TryGetValue(key, out (string Value, DateTimeOffset Until) entry) && entry.Until > time.GetUtcNow() ? entry.Value : null);
        }

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default)
        {
            if (Hang)
            {
                return new ValueTask<string?>(_never.Task.ContinueWith(_ => (string?)null, TaskScheduler.Default));
            }

            ThrowIfFailing();
            CheckContract(key, value);
            lock (_values)
            {
                if (_values.TryGetValue(key, out (string Value, DateTimeOffset Until) entry) && entry.Until > time.GetUtcNow())
                {
                    return ValueTask.FromResult<string?>(entry.Value);
                }

                _values[key] = (value, time.GetUtcNow() + timeToLive);
                return ValueTask.FromResult<string?>(null);
            }
        }

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _removes);
            if (Hang)
            {
                return new ValueTask<bool>(_never.Task.ContinueWith(_ => false, TaskScheduler.Default));
            }

            ThrowIfFailing();
            CheckContract(key, expectedValue);
            lock (_values)
            {
                bool live = _values.TryGetValue(key, out (string Value, DateTimeOffset Until) entry) && entry.Until > time.GetUtcNow();
                return ValueTask.FromResult(live && entry.Value == expectedValue && _values.TryRemove(key, out _));
            }
        }

        /// <summary>What <see cref="IEmailGuardKeyValueStore"/> documents, as the built-in stores enforce it.</summary>
        private static void CheckContract(string key, string value)
        {
            if (key.Length > 256 || !key.All(c => c is >= '!' and <= '~') || value.Length > 4_096 || !value.All(IsPrintableAscii))
            {
                throw new ArgumentException($"The key-value contract forbids key '{key}' or its value.");
            }
        }

        private void ThrowIfFailing()
        {
            if (Fail)
            {
                throw new InvalidOperationException("The store is down.");
            }
        }
    }
}
