using System.Diagnostics;
using System.Text.Json;
using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;

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
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost first = await StartAsync(prefix, receiver);
        await using DashboardHost second = await StartAsync(prefix, receiver);
        AlertMetrics firstMetrics = first.Services.GetRequiredService<AlertMetrics>();
        AlertMetrics secondMetrics = second.Services.GetRequiredService<AlertMetrics>();

        // Act: the tenant's 3 an hour are used on the first instance; then 5 denials on each instance.
        await CheckAsync(first, 3 + 5);
        await CheckAsync(second, 5);
        JsonElement page = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;
        bool decided = await WaitUntilAsync(() => firstMetrics.Suppressed + secondMetrics.Suppressed == 1);

        // Assert
        page.GetProperty("kind").GetString().Should().Be(EmailGuardAlertKinds.LimitExceededSpike);
        page.GetProperty("condition").GetString().Should().Be("limit_exceeded_spike:Tenant");
        decided.Should().BeTrue("the instance that lost the claim counts its spike as suppressed");
        receiver.Alerts.Reader.TryRead(out _).Should().BeFalse("one spike, one page, whichever instance saw it");
    }

    private static async Task CheckAsync(DashboardHost host, int count)
    {
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < count; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "flood" });
        }
    }

    private Task<DashboardHost> StartAsync(string prefix, AlertReceiver receiver)
        => DashboardHost.StartAsync(
            o =>
            {
                o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
                o.WebhookSecret = Secret;
                o.SpikeThreshold = 5;
            },
            services: s => s.AddEmailGuard().AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = prefix;
            }));

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
