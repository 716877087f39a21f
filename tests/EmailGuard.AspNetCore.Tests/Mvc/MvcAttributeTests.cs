using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class MvcAttributeTests
{
    private static Task<TestApp> StartAsync() => TestApp.StartAsync(
        s =>
        {
            s.AddControllers().AddApplicationPart(typeof(MailController).Assembly);
            s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(2)));
                o.AddPolicy("action", p => p.PerClientIp(RateLimitRule.PerHour(1)));
            });
        },
        a => a.MapControllers());

    [Fact]
    public async Task ControllerAttribute_LimitsActionsWithoutTheirOwn()
    {
        await using TestApp app = await StartAsync();

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/mvc/mail/share", "203.0.113.1");
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ActionAttribute_OverridesControllerAttribute()
    {
        await using TestApp app = await StartAsync();

        using HttpResponseMessage first = await app.PostAsync("/mvc/mail/reset", "203.0.113.1");
        using HttpResponseMessage second = await app.PostAsync("/mvc/mail/reset", "203.0.113.1");

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        second.Header("RateLimit-Policy").Should().Contain("action.ip");
    }

    [Fact]
    public async Task DisableAttribute_ExemptsActionOfLimitedController()
    {
        await using TestApp app = await StartAsync();

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await app.GetAsync("/mvc/mail/status", "203.0.113.1");
            statuses.Add(response.StatusCode);
        }

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }
}
