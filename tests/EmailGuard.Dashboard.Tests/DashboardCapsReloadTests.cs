using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The overview shows the caps the send guard applies: those of a reload it took, not of one it refused.</summary>
public sealed class DashboardCapsReloadTests
{
    private const string TenantRow = "<tr><td>Tenant</td><td>2 per day (UTC) (FixedWindow)</td></tr>";

    [Fact]
    public async Task Overview_AfterAReloadTakenAndOneRefused_ShowsTheCapsTheGuardApplies()
    {
        // Arrange: the host's code gives the tenant 3 an hour; a reload adds 2 a day.
        CapturingLoggerProvider logs = new();
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        using HttpClient client = host.Client();
        (await client.GetStringAsync("/emailguard/")).Should().NotContain(TenantRow);
        IConfigurationRoot configuration = (IConfigurationRoot)host.App.Configuration;

        // Act: a reload the guard takes, then one it refuses (a negative limit).
        // An in-memory source, which a reload keeps: the host's file and environment sources would read their values again.
        ((IConfigurationBuilder)configuration).AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EmailGuard:SendGuard:Tenant:Rules:0:Limit"] = "2",
            ["EmailGuard:SendGuard:Tenant:Rules:0:Window"] = "1.00:00:00",
        });
        configuration.Reload();
        string taken = await client.GetStringAsync("/emailguard/");
        configuration["EmailGuard:SendGuard:Tenant:Rules:0:Limit"] = "-1";
        configuration.Reload();
        string refused = await client.GetStringAsync("/emailguard/");

        // Assert
        taken.Should().Contain(TenantRow, "the reloaded cap is in force: {0}", string.Join("\n", logs.Messages));
        refused.Should().Contain(TenantRow, "a refused reload leaves the caps in force, and the page shows those, not the configuration");
    }
}
