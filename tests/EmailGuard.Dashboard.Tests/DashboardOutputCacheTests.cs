using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// An app that caches the output of every GET (<c>AddOutputCache</c> with a base policy that caches) and runs the
/// output cache ahead of everything, as its pipeline happens to be ordered: a page an operator loaded is never served
/// from the cache to a visitor the dashboard would have turned away.
/// </summary>
public sealed class DashboardOutputCacheTests
{
    private static readonly string[] Pages = ["/", "/flags", "/events", "/policies", "/lists"];

    [Fact]
    public async Task WithAPolicy_OutputCacheAheadOfAuthentication_NeverServesAPageToAnAnonymousVisitor()
    {
        // Arrange
        await using DashboardHost host = await DashboardHost.StartAsync(services: CacheEveryGet, endpoints: UseOutputCacheFirst);
        using HttpClient operatorClient = host.Client();
        using HttpClient anonymous = host.Client(user: null, roles: null);

        // Act: the operator loads each page twice (the second time with the cookies the first set, so it sets none).
        foreach (string page in Pages)
        {
            (await operatorClient.GetAsync("/emailguard" + page)).StatusCode.Should().Be(HttpStatusCode.OK);
            (await operatorClient.GetAsync("/emailguard" + page)).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        // Assert: the cache is on (the app's own endpoint is served from it), and no dashboard page came out of it.
        (await anonymous.GetStringAsync("/public")).Should().Be(await anonymous.GetStringAsync("/public"));
        foreach (string page in Pages)
        {
            (await anonymous.GetAsync("/emailguard" + page)).StatusCode.Should().Be(HttpStatusCode.Unauthorized, $"{page} must not come from the output cache");
        }
    }

    [Fact]
    public async Task LocalOnly_OutputCacheAheadOfTheDashboard_NeverServesAPageToARelayedVisitor()
    {
        // Arrange: Development without a policy, where the dashboard serves requests from this machine only; the check is
        // the group's own, not the authorization middleware's, so the output cache saw an ordinary anonymous GET.
        await using DashboardHost host = await DashboardHost.StartAsync(
            environment: "Development",
            services: CacheEveryGet,
            endpoints: app =>
            {
                UseOutputCacheFirst(app);
                app.MapEmailGuardDashboard("/local");
            });
        using HttpClient client = host.Client(user: null, roles: null);

        // Act and assert: the operator at the machine loads each page twice; a visitor relayed by a proxy on the machine
        // (loopback, Host: localhost, a forwarding header) asks for the same pages.
        foreach (string page in Pages)
        {
            (await SendAsync(client, host, "/local" + page)).Should().Be(HttpStatusCode.OK);
            (await SendAsync(client, host, "/local" + page)).Should().Be(HttpStatusCode.OK);
            (await SendAsync(client, host, "/local" + page, ("X-Forwarded-For", "203.0.113.9")))
                .Should().Be(HttpStatusCode.Forbidden, $"{page} must not come from the output cache");
        }
    }

    private static void CacheEveryGet(IServiceCollection services) => services.AddOutputCache(o => o.AddBasePolicy(b => b.Cache()));

    private static void UseOutputCacheFirst(WebApplication app)
    {
        app.UseOutputCache();
        app.MapGet("/public", () => $"public {Guid.NewGuid():N}");
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient client, DashboardHost host, string path, params (string Name, string Value)[] headers)
    {
        using HttpRequestMessage request = new(HttpMethod.Get, path);
        request.Headers.Host = $"localhost:{host.Address.Port}";
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using HttpResponseMessage response = await client.SendAsync(request);
        return response.StatusCode;
    }
}
