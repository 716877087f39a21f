using EmailGuard.Dashboard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// Two instances of the sample on one Redis: the dashboard of either shows what the other did, because each publishes
/// its recent activity to Redis.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisSharedDashboardTests(RedisServerFixture redis)
{
    [Fact]
    public async Task Overview_OnOneInstance_ShowsTheSignupsOfTheOther()
    {
        Dictionary<string, string?> settings = new()
        {
            ["EmailGuard:Redis:Configuration"] = redis.ConnectionString,
            ["EmailGuard:Redis:KeyPrefix"] = $"sample-shared:{Guid.NewGuid():N}:",
        };
        await using SampleApp first = SampleApp.Start(settings);
        await using SampleApp second = SampleApp.Start(settings);
        using SampleHttpClient visitor = new(second.BaseAddress);
        using SampleHttpClient admin = new(first.BaseAddress, SampleApp.AdminKey);
        (await visitor.SubmitAsync("/signup", "/signup", ("email", "someone@shared-dashboard.example"))).Dispose();
        await second.MailDrainedAsync();
        string before = await admin.GetStringAsync("/emailguard/");

        // The second's background publisher does this every 15 s.
        await second.Services.GetRequiredService<ActivityExchange>().PublishAsync(default);
        string after = await admin.GetStringAsync("/emailguard/");

        before.Should().NotContain("shared-dashboard.example", "the first instance saw no such mail itself");
        after.Should().Contain("shared-dashboard.example").And.Contain("<span id=\"instances\">2</span>");
    }
}
