using EmailGuard;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class HotPathTests
{
    private static EmailGuardMiddleware Create(RequestDelegate next)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("p", p => p.PerClientIp(RateLimitRule.PerHour(1))));
        ServiceProvider provider = services.BuildServiceProvider();
        return ActivatorUtilities.CreateInstance<EmailGuardMiddleware>(provider, next);
    }

    [Fact]
    public void Invoke_EndpointWithoutMetadataAndNoPathRules_ReturnsNextTaskItself()
    {
        Task nextTask = new TaskCompletionSource().Task;
        EmailGuardMiddleware middleware = Create(_ => nextTask);
        var context = new DefaultHttpContext();
        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(), "plain"));

        Task result = middleware.Invoke(context);

        result.Should().BeSameAs(nextTask, "an unguarded request goes straight to the next middleware, without a state machine");
    }

    [Fact]
    public void Invoke_DisabledEndpoint_ReturnsNextTaskItself()
    {
        Task nextTask = new TaskCompletionSource().Task;
        EmailGuardMiddleware middleware = Create(_ => nextTask);
        var context = new DefaultHttpContext();
        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new EmailRateLimitAttribute("p"), new DisableEmailRateLimitAttribute()), "disabled"));

        middleware.Invoke(context).Should().BeSameAs(nextTask);
    }

    [Fact]
    public async Task Invoke_GuardedEndpoint_CallsNextOnceWhenAllowed()
    {
        int calls = 0;
        EmailGuardMiddleware middleware = Create(_ => { calls++; return Task.CompletedTask; });
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("203.0.113.1");
        context.SetEndpoint(new Endpoint(_ => Task.CompletedTask, new EndpointMetadataCollection(new EmailRateLimitAttribute("p")), "guarded"));

        await middleware.Invoke(context);
        var second = new DefaultHttpContext { Connection = { RemoteIpAddress = System.Net.IPAddress.Parse("203.0.113.1") } };
        second.SetEndpoint(context.GetEndpoint());
        second.Response.Body = new MemoryStream();
        await middleware.Invoke(second);

        calls.Should().Be(1);
        second.Response.StatusCode.Should().Be(StatusCodes.Status429TooManyRequests);
    }
}
