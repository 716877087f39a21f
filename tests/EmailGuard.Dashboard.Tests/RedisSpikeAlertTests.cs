using System.Diagnostics;
using System.Text.Json;
using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Limit spikes are counted by each instance in its own memory, so a flood spread over the instances makes each raise
/// its own spike of the same condition: the instances share one page per condition and period through the store.
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

    /// <summary>The next spike alert at the webhook, past any store outage or recovery a loaded machine causes.</summary>
    private static async Task<JsonElement> NextSpikeAsync(AlertReceiver receiver)
    {
        while (true)
        {
            JsonElement alert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
            if (alert.GetProperty("kind").GetString() == EmailGuardAlertKinds.LimitExceededSpike)
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

    private Task<DashboardHost> StartAsync(string prefix, AlertReceiver receiver, CapturingLoggerProvider logs)
        => DashboardHost.StartAsync(
            o =>
            {
                o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
                o.WebhookSecret = Secret;
                o.SpikeThreshold = 5;
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
    private static async Task<bool> WaitUntilAsync(Func<bool> condition)
    {
        for (long started = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30); await Task.Delay(20))
        {
            if (condition())
            {
                return true;
            }
        }

        return condition();
    }
}
