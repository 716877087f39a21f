using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Limit spikes are counted over all the instances in the store, so a flood spread over them pages although each sees
/// less than the threshold; the instances share one page per condition and period through the store, and a claim whose
/// page reached no one is given up so that another instance's page goes out.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSpikeAlertTests(RedisServerFixture redis)
{
    private const string Secret = "test-secret-0123456789";

    [Fact]
    public async Task SameSpikeOnTwoInstances_OnePage_TheOtherCountedAsSuppressed()
    {
        // Arrange: two instances on one Redis, a spike at every 5 tenant denials, one receiver.
        string prefix = RedisServerFixture.UniquePrefix();
        CapturingLoggerProvider logs = new();
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost first = await StartAsync(prefix, receiver, logs);
        await using DashboardHost second = await StartAsync(prefix, receiver, logs);

        // Act: the tenant's 3 an hour are used on the first instance; then 5 denials on each instance.
        await CheckAsync(first, 3 + 5);
        await CheckAsync(second, 5);
        JsonElement page = await NextSpikeAsync(receiver);
        bool decided = await WaitUntilAsync(() => logs.Messages.Count(m => m.Contains("was not sent: another instance sent one", StringComparison.Ordinal)) == 1);

        // Assert: should the store still hiccup and page its outage meanwhile, no second spike goes out.
        page.GetProperty("condition").GetString().Should().Be("limit_exceeded_spike:Tenant");
        decided.Should().BeTrue("the instance that lost the claim does not send its spike (log 3000)");
        List<string?> others = [];
        while (receiver.Alerts.Reader.TryRead(out AlertReceiver.Received? other))
        {
            others.Add(JsonDocument.Parse(other.Body).RootElement.GetProperty("kind").GetString());
        }

        others.Should().NotContain(EmailGuardAlertKinds.LimitExceededSpike, "one spike, one page, whichever instance saw it");
    }

    [Fact]
    public async Task FloodSpreadOverFourInstances_EachBelowTheThreshold_PagesExactlyOnce()
    {
        // Arrange: four instances on one Redis, each on its own connection; a spike at every 8 tenant denials.
        string prefix = RedisServerFixture.UniquePrefix();
        CapturingLoggerProvider logs = new();
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        List<DashboardHost> hosts = [];
        try
        {
            for (int i = 0; i < 4; i++)
            {
                hosts.Add(await StartAsync(prefix, receiver, logs, threshold: 8));
            }

            // Act: the tenant's 3 an hour are used on the first instance; then 3 denials on each: 12 in all, 3 on each.
            await CheckAsync(hosts[0], 3 + 3);
            for (int i = 1; i < 4; i++)
            {
                await CheckAsync(hosts[i], 3);
            }

            JsonElement page = await NextSpikeAsync(receiver);
            bool allCounted = await WaitUntilAsync(async () => await SharedCountAsync(hosts[0]) == 12);

            // Assert: one page with the fleet's count; 12 denials cross the multiple of 8 once, so no instance raises another.
            page.GetProperty("condition").GetString().Should().Be("limit_exceeded_spike:Tenant");
            long.Parse(page.GetProperty("details").GetProperty("count").GetString()!, CultureInfo.InvariantCulture).Should().BeInRange(8, 12);
            allCounted.Should().BeTrue("every instance's denials reach the shared counter");
        }
        finally
        {
            foreach (DashboardHost host in hosts)
            {
                await host.DisposeAsync();
            }
        }

        OtherSpikes(receiver).Should().BeEmpty("one flood, one page, whichever instances saw it");
    }

    [Fact]
    public async Task ClaimedSpikeThatReachesNoSink_IsGivenUp_AndTheNextInstancesSpikePages()
    {
        // Arrange: two instances; the receiver is down for the first (500 to every alert it sends, one attempt each).
        string prefix = RedisServerFixture.UniquePrefix();
        CapturingLoggerProvider logs = new();
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        receiver.Fails = r => Source(r) == "first";
        await using DashboardHost first = await StartAsync(prefix, receiver, logs, threshold: 4, source: "first");
        await using DashboardHost second = await StartAsync(prefix, receiver, logs, threshold: 4, source: "second");
        AlertMetrics firstMetrics = first.Services.GetRequiredService<AlertMetrics>();

        // Act: 4 denials on the first instance claim the spike, whose page fails; then 4 on the second cross the next multiple.
        await CheckAsync(first, 3 + 4);
        bool failed = await WaitUntilAsync(() => Task.FromResult(firstMetrics.Failures == 1));
        bool released = await WaitUntilAsync(() => Task.FromResult(logs.Messages.Any(m => m.Contains("its claim is given up", StringComparison.Ordinal))));
        await CheckAsync(second, 4);
        JsonElement page = await NextSpikeAsync(receiver, from: "second");

        // Assert
        failed.Should().BeTrue("the first instance's page was refused");
        released.Should().BeTrue("the claim of a page that reached no one is given up (log 3017)");
        page.GetProperty("condition").GetString().Should().Be("limit_exceeded_spike:Tenant");
        logs.Messages.Should().NotContain(m => m.Contains("was not sent: another instance sent one", StringComparison.Ordinal),
            "no instance sent the spike, so none may silence the second");
    }

    /// <summary>The webhook alerts left in the receiver that are spikes.</summary>
    private static List<string?> OtherSpikes(AlertReceiver receiver)
    {
        List<string?> spikes = [];
        while (receiver.Alerts.Reader.TryRead(out AlertReceiver.Received? other))
        {
            JsonElement alert = JsonDocument.Parse(other.Body).RootElement;
            if (alert.GetProperty("kind").GetString() == EmailGuardAlertKinds.LimitExceededSpike)
            {
                spikes.Add(alert.GetProperty("condition").GetString());
            }
        }

        return spikes;
    }

    private static string? Source(AlertReceiver.Received received)
        => JsonDocument.Parse(received.Body).RootElement.GetProperty("source").GetString();

    /// <summary>The tenant dimension's spike counter in the store, as every instance adds to it.</summary>
    private static async Task<long> SharedCountAsync(DashboardHost host)
    {
        EmailGuardAlertOptions options = host.Services.GetRequiredService<IOptions<EmailGuardAlertOptions>>().Value;
        (_, RateLimitEntry entry) = await host.Services.GetRequiredService<IRateLimitStore>().PeekAsync(
            SpikeCounter.Key(EmailGuardDimension.Tenant), RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, options.SpikeWindow));
        return entry.Count;
    }

    /// <summary>The next spike alert at the webhook, past any store outage or recovery a loaded machine causes.</summary>
    private static async Task<JsonElement> NextSpikeAsync(AlertReceiver receiver, string? from = null)
    {
        while (true)
        {
            JsonElement alert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
            if (alert.GetProperty("kind").GetString() == EmailGuardAlertKinds.LimitExceededSpike && (from is null || alert.GetProperty("source").GetString() == from))
            {
                return alert;
            }
        }
    }

    private static async Task CheckAsync(DashboardHost host, int count)
    {
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < count; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "flood" });
        }
    }

    private Task<DashboardHost> StartAsync(string prefix, AlertReceiver receiver, CapturingLoggerProvider logs, int threshold = 5, string? source = null)
        => DashboardHost.StartAsync(
            o =>
            {
                o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
                o.WebhookSecret = Secret;
                o.SpikeThreshold = threshold;
                o.Source = source;
                o.MaxAttempts = 1;

                // A day's window: a test that straddled a 5-minute boundary would count in two windows.
                o.SpikeWindow = TimeSpan.FromDays(1);
            },
            services: s =>
            {
                s.AddSingleton<ILoggerProvider>(logs);

                // A loaded machine can take longer than the default 250 ms, which would page an outage and admit unguarded.
                s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromSeconds(5));
                s.AddEmailGuard().AddRedisStore(o =>
                {
                    o.Configuration = redis.ConnectionString;
                    o.KeyPrefix = prefix;
                });
            });

    // The dispatchers decide in the background; bounded far above the milliseconds it takes.
    private static Task<bool> WaitUntilAsync(Func<bool> condition) => WaitUntilAsync(() => Task.FromResult(condition()));

    private static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (long started = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30); await Task.Delay(20))
        {
            if (await condition())
            {
                return true;
            }
        }

        return await condition();
    }
}
