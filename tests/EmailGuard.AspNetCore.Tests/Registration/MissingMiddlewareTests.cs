using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Registration;

public sealed class MissingMiddlewareTests
{
    private static Task<TestApp> StartAsync(bool useEmailGuard) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)))),
        app => app.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"),
        useEmailGuard: useEmailGuard);

    [Fact]
    public async Task PolicyOnAnEndpoint_WithoutUseEmailGuard_WarnsOnceTheAppHasStarted()
    {
        // Without the middleware every request is served and no limit applies; nothing else says so.
        await using TestApp app = await StartAsync(useEmailGuard: false);

        app.Logs.GetSnapshot().Where(r => r.Id.Id == 2975).Should().ContainSingle()
            .Which.Message.Should().Contain("UseEmailGuard()").And.Contain("/signup");
    }

    [Fact]
    public async Task PolicyOnAnEndpoint_WithUseEmailGuard_DoesNotWarn()
    {
        await using TestApp app = await StartAsync(useEmailGuard: true);

        app.Logs.GetSnapshot().Where(r => r.Id.Id == 2975).Should().BeEmpty();
    }
}
