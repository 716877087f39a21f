using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using EmailGuard.Dashboard;
using EmailGuard.Testing.Time;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// An app with the send guard, the dashboard under /emailguard (policy "ops": role ops; "ops-actions": role admin, for
/// tests that name it the actions policy; inside the app's route group <c>group</c> when one is given) and optionally alerts, on
/// Kestrel at 127.0.0.1. Requests sign in with <c>X-Test-User</c> and <c>X-Test-Roles</c> (with <c>X-Test-Id-Only</c>, the
/// user is a name identifier claim, and the identity has no name).
/// </summary>
internal sealed class DashboardHost : IAsyncDisposable
{
    private DashboardHost(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public IServiceProvider Services => App.Services;

    public static async Task<DashboardHost> StartAsync(
        Action<EmailGuardAlertOptions>? alerts = null,
        TimeProvider? time = null,
        string environment = "Production",
        Action<IServiceCollection>? services = null,
        Action<WebApplication>? endpoints = null,
        Action<EmailGuardDashboardOptions>? dashboard = null,
        string? group = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }
        else
        {
            // On the real clock (and a Redis store's, the same machine's), the host's hourly and daily limits, pools and
            // spike windows are counted in fixed windows: a test that filled one and then reads the denials across the
            // hour's end would see it start over. The host starts at least 30 s before the hour ends.
            await WindowEnd.ClearOfTheHourAsync();
        }

        builder.Services.AddAuthentication("Test").AddScheme<AuthenticationSchemeOptions, TestAuthHandler>("Test", null);
        builder.Services.AddAuthorization(o =>
        {
            o.AddPolicy("ops", p => p.RequireRole("ops"));
            o.AddPolicy("ops-actions", p => p.RequireRole("admin"));
        });
        IEmailGuardBuilder guard = builder.Services.AddEmailGuard().AddSendGuard(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(100_000));
            o.Tenant.Add(RateLimitRule.PerHour(3));
            o.User.Add(RateLimitRule.PerHour(1_000));
        }).AddDashboard();
        if (alerts is not null)
        {
            guard.AddAlerts(alerts);
        }

        services?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        endpoints?.Invoke(app);
        app.UseAuthentication();
        app.UseAuthorization();
        (group is null ? (Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app : app.MapGroup(group)).MapEmailGuardDashboard("/emailguard", o =>
        {
            o.AuthorizationPolicy = "ops";
            dashboard?.Invoke(o);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new DashboardHost(app, new Uri(address));
    }

    public HttpClient Client(string? user = "alice", string? roles = "ops")
    {
        HttpClient client = new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true }) { BaseAddress = Address };
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add("X-Test-User", user);
        }

        if (roles is not null)
        {
            client.DefaultRequestHeaders.Add("X-Test-Roles", roles);
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }

    private sealed class TestAuthHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            if (Request.Headers["X-Test-User"].FirstOrDefault() is not { Length: > 0 } user)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            // X-Test-Id-Only: the user as a bearer token's subject usually arrives, an id claim and no name claim.
            List<Claim> claims = [new(Request.Headers.ContainsKey("X-Test-Id-Only") ? ClaimTypes.NameIdentifier : ClaimTypes.Name, user)];
            foreach (string role in (Request.Headers["X-Test-Roles"].FirstOrDefault() ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                claims.Add(new Claim(ClaimTypes.Role, role));
            }

            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, "Test")), "Test")));
        }
    }
}
