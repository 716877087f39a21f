using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The flags page's "Apply a tenant's new limits now": an operator who cut a tenant's plan in the app's database applies
/// it from the dashboard (<see cref="IEmailGuardTenantLimits"/>) instead of waiting for the cached answer to expire.
/// </summary>
public sealed class TenantLimitsReloadActionTests
{
    [Fact]
    public async Task ReloadOneTenant_ThePlanCutAppliesAtItsNextCheck_OtherTenantsKeepTheirCachedAnswer()
    {
        // Arrange: a provider reading the "database"; both tenants' answers cached at 100 an hour.
        Plans plans = new() { ["acme"] = 100, ["globex"] = 100 };
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddSingleton<ITenantLimitProvider>(plans));
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(Message("acme"))).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(Message("globex"))).IsAllowed.Should().BeTrue();
        plans["acme"] = 1;
        plans["globex"] = 1;
        using HttpClient admin = host.Client(roles: "ops");
        string page = await admin.GetStringAsync("/emailguard/flags");
        page.Should().Contain("id=\"tenant-limits-reload\"");
        string token = DashboardPage.TokenPattern().Match(page).Groups[1].Value;

        // Act
        using HttpResponseMessage reload = await admin.PostAsync(
            "/emailguard/tenants/limits/reload",
            new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("id", "acme")]));

        // Assert: acme's cut applies at once (one sent, the cap is 1); globex still runs on its cached 100.
        reload.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await guard.CheckAsync(Message("acme"))).IsAllowed.Should().BeFalse("acme's plan is now 1 an hour and it sent one");
        (await guard.CheckAsync(Message("globex"))).IsAllowed.Should().BeTrue("globex's cached answer was not dropped");
        plans.Lookups("acme").Should().Be(2);
        plans.Lookups("globex").Should().Be(1);
    }

    /// <summary>An id of spaces named no tenant, yet was "looked up again" with a notice of success.</summary>
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t")]
    public async Task ReloadOneTenant_EmptyOrWhitespaceId_IsRefusedAlike(string id)
    {
        Plans plans = new() { ["acme"] = 100 };
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddSingleton<ITenantLimitProvider>(plans));
        using HttpClient admin = host.Client(roles: "ops");
        string token = DashboardPage.TokenPattern().Match(await admin.GetStringAsync("/emailguard/flags")).Groups[1].Value;

        using HttpResponseMessage reload = await admin.PostAsync(
            "/emailguard/tenants/limits/reload",
            new FormUrlEncodedContent([new("__RequestVerificationToken", token), new("id", id)]));

        reload.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        string location = reload.Headers.Location!.ToString();
        location.Should().Contain("err=").And.NotContain("msg=");
        (await admin.GetStringAsync(location)).Should().Contain("Not done: name a tenant, or tick every tenant.");
    }

    [Fact]
    public async Task FlagsPage_WithoutATenantLimitProvider_OffersNoReload()
    {
        await using DashboardHost host = await DashboardHost.StartAsync();
        using HttpClient admin = host.Client(roles: "ops");

        (await admin.GetStringAsync("/emailguard/flags")).Should().NotContain("tenant-limits-reload");
    }

    private static OutboundEmail Message(string tenant) => new()
    {
        Sender = "app@example.com",
        To = [$"someone-{Guid.NewGuid():N}@example.org"],
        TenantId = tenant,
        UserId = "u1",
    };

    private sealed class Plans : ITenantLimitProvider
    {
        private readonly Dictionary<string, int> _limits = [];
        private readonly Dictionary<string, int> _lookups = [];
        private readonly Lock _gate = new();

        public int this[string tenant]
        {
            set
            {
                lock (_gate)
                {
                    _limits[tenant] = value;
                }
            }
        }

        public int Lookups(string tenant)
        {
            lock (_gate)
            {
                return _lookups.GetValueOrDefault(tenant);
            }
        }

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _lookups[tenantId] = _lookups.GetValueOrDefault(tenantId) + 1;
                return new(new TenantLimits { Rules = [RateLimitRule.PerHour(_limits[tenantId])] });
            }
        }
    }
}
