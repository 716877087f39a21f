using EmailGuard.Redis;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Two instances sharing a real Redis: an instance that shuts down gives up its activity slot, so the other stops
/// showing it at once, not when the slot expires.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisActivityLeaveTests(RedisServerFixture redis)
{
    [Fact]
    public async Task StopAsync_OnRedis_GivesUpTheSlot_TheOtherInstanceKeepsItsOwn()
    {
        // Arrange
        string prefix = RedisServerFixture.UniquePrefix();
        await using DashboardHost first = await StartAsync(prefix);
        DashboardHost second = await StartAsync(prefix);
        ActivityExchange firstExchange = first.Services.GetRequiredService<ActivityExchange>();
        ActivityExchange secondExchange = second.Services.GetRequiredService<ActivityExchange>();
        await firstExchange.PublishAsync(default);
        await secondExchange.PublishAsync(default);
        IEmailGuardKeyValueStore store = first.Services.GetRequiredService<IEmailGuardKeyValueStore>();
        (await SlotHoldersAsync(store)).Should().BeEquivalentTo([firstExchange.InstanceId, secondExchange.InstanceId]);

        // Act
        await second.App.StopAsync();

        // Assert
        (await SlotHoldersAsync(store)).Should().Equal(firstExchange.InstanceId);
        await second.App.DisposeAsync();
    }

    private static async Task<string[]> SlotHoldersAsync(IEmailGuardKeyValueStore store)
    {
        string?[] holders = await Task.WhenAll(Enumerable.Range(0, ActivityExchange.MaxInstances)
            .Select(slot => store.GetAsync($"emailguard:dashboard:slot:{slot}").AsTask()));
        return [.. holders.OfType<string>()];
    }

    private Task<DashboardHost> StartAsync(string prefix)
        => DashboardHost.StartAsync(services: s =>
        {
            // A loaded machine can take longer than the default 250 ms to answer a cold connection's first calls.
            s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromSeconds(5));
            s.AddEmailGuard().AddRedisStore(o =>
            {
                o.Configuration = redis.ConnectionString;
                o.KeyPrefix = prefix;
            });
        });
}
