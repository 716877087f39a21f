using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The overview shows a tenant pool as a pool: its rules among the configured ones, its usage as "Tenant pool" and its
/// name, and its denials apart from the tenants' own; a tenant whose id reads as a pool stays a tenant.
/// </summary>
public sealed class DashboardTenantPoolTests
{
    [Fact]
    public async Task Overview_PoolDenial_ShowsThePoolsRulesUsageAndDenials_ApartFromATenantNamedLikeIt()
    {
        // Arrange: trial tenants share 2 a day; the tenant 'pool:trial' is in no pool and has 5 a day of its own.
        CountingTenantLimitProvider provider = new(t => t == "pool:trial"
            ? new TenantLimits { Rules = [RateLimitRule.PerDay(5)] }
            : new TenantLimits { Rules = [RateLimitRule.PerDay(10)], Pool = "trial" });
        await using DashboardHost host = await DashboardHost.StartAsync(services: s =>
        {
            s.AddSingleton<ITenantLimitProvider>(provider);
            s.Configure<SendGuardOptions>(o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2)));
        });
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        EmailSendDecision[] trial =
        [
            await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "trial-1" }),
            await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "trial-2" }),
            await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "trial-1" }),
        ];
        (await guard.CheckAsync(new OutboundEmail { To = ["d@example.com"], TenantId = "pool:trial" })).IsAllowed.Should().BeTrue();
        using HttpClient client = host.Client();

        // Act
        string html = await client.GetStringAsync("/emailguard/");

        // Assert
        trial.Select(d => d.IsAllowed).Should().Equal(true, true, false);
        trial[2].Partition.Should().Be("pool:trial");
        html.Should().Contain("<td>LimitExceeded (Tenant pool)</td><td class=\"num\">1</td>", "a pool's denial is told from a tenant's own");
        html.Should().Contain("<tr><td>Tenant pool trial</td><td>2 per day (UTC) (FixedWindow)</td></tr>", "the pool's rule is among the configured ones");
        html.Should().Contain("<tr><td>Tenant pool</td><td>trial</td><td>2 per day (UTC) (FixedWindow)</td><td class=\"num\">2</td><td class=\"num\">2</td>", "the pool's usage, full");
        html.Should().Contain("<tr><td>Tenant</td><td>tenant:pool:trial</td><td>5 per day (UTC) (FixedWindow)</td><td class=\"num\">1</td>", "the tenant named like the pool is a tenant");
    }
}
