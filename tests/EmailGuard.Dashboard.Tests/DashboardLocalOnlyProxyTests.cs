using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The Development dashboard without a policy behind a reverse proxy on the same machine: nginx, YARP or Caddy connect
/// from loopback for every visitor, often with <c>Host: localhost</c>.
/// </summary>
public sealed class DashboardLocalOnlyProxyTests
{
    private static async Task<HttpStatusCode> GetAsync(DashboardHost host, params (string Name, string Value)[] headers)
    {
        using HttpClient client = host.Client(user: null, roles: null);
        using HttpRequestMessage request = new(HttpMethod.Get, "/local/flags");
        request.Headers.Host = $"localhost:{host.Address.Port}";
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using HttpResponseMessage response = await client.SendAsync(request);
        return response.StatusCode;
    }

    [Theory]
    [InlineData("X-Forwarded-For", "203.0.113.9")]
    [InlineData("X-Forwarded-Host", "dashboard.example.com")]
    [InlineData("Forwarded", "for=203.0.113.9;host=dashboard.example.com")]
    [InlineData("X-Real-IP", "203.0.113.9")]
    [InlineData("X-Forwarded-Proto", "https")]
    public async Task LocalOnly_LoopbackRequestWithAForwardingHeader_Forbidden(string header, string value)
    {
        // Arrange
        await using DashboardHost host = await DashboardHost.StartAsync(environment: "Development", endpoints: app => app.MapEmailGuardDashboard("/local"));

        // Act and assert
        (await GetAsync(host)).Should().Be(HttpStatusCode.OK, "a loopback request to localhost without a proxy is local");
        (await GetAsync(host, (header, value))).Should().Be(HttpStatusCode.Forbidden, "a proxy on this machine relays every visitor from loopback");
    }

    [Fact]
    public async Task LocalOnly_AnEndpointTheAppAddsToTheGroup_IsLocalOnlyToo()
    {
        // Arrange: the group is documented as one the app extends, and with a policy every endpoint in it requires the
        // policy. Without one, only the dashboard's own pages checked that the request was local; an endpoint the app added
        // (an export, a JSON view of the lists) served any visitor.
        await using DashboardHost host = await DashboardHost.StartAsync(
            environment: "Development",
            endpoints: app => app.MapEmailGuardDashboard("/local").MapGet("/export", () => "every suppressed address"));
        using HttpClient client = host.Client(user: null, roles: null);

        // Act
        using HttpRequestMessage local = new(HttpMethod.Get, "/local/export");
        local.Headers.Host = $"localhost:{host.Address.Port}";
        using HttpResponseMessage localResponse = await client.SendAsync(local);
        using HttpRequestMessage relayed = new(HttpMethod.Get, "/local/export");
        relayed.Headers.Host = $"localhost:{host.Address.Port}";
        relayed.Headers.TryAddWithoutValidation("X-Forwarded-For", "203.0.113.9");
        using HttpResponseMessage relayedResponse = await client.SendAsync(relayed);

        // Assert
        localResponse.StatusCode.Should().Be(HttpStatusCode.OK);
        relayedResponse.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task LocalOnly_ForwardedHeadersAlreadyApplied_Forbidden()
    {
        // Arrange: UseForwardedHeaders() trusts the loopback proxy, applies X-Forwarded-For and X-Forwarded-Host and removes
        // them. The client it names is loopback too (the proxy's own health check, or a client address it does not pass
        // on), and the host it names is localhost, so the request looks local once the headers are gone; only the
        // X-Original-* headers the middleware leaves, here under the names the app gave them, show a proxy relayed it.
        await using DashboardHost host = await DashboardHost.StartAsync(
            environment: "Development",
            services: s => s.Configure<ForwardedHeadersOptions>(o =>
            {
                o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedHost;
                o.OriginalForHeaderName = "X-Proxy-Original-For";
                o.OriginalHostHeaderName = "X-Proxy-Original-Host";
            }),
            endpoints: app =>
            {
                app.UseForwardedHeaders();
                app.MapEmailGuardDashboard("/local");
            });

        // Act
        HttpStatusCode relayed = await GetAsync(host, ("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Host", $"localhost:{host.Address.Port}"));

        // Assert
        relayed.Should().Be(HttpStatusCode.Forbidden);
        (await GetAsync(host)).Should().Be(HttpStatusCode.OK);
    }
}
