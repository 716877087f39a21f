using System.Net;

namespace EmailGuard.Sample.Limits;

/// <summary>TEMPORARY stand-in for RequireEmailRateLimit until the middleware lands on main.</summary>
internal sealed class InterimEndpointLimit(string policy, RateLimitRule perIp, RateLimitRule perAddress, string headline) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        HttpContext http = context.HttpContext;
        IRateLimitStore store = http.RequestServices.GetRequiredService<IRateLimitStore>();
        IFormCollection form = await http.Request.ReadFormAsync(http.RequestAborted);
        string ip = IpAddressGrouping.GetPartition(http.Connection.RemoteIpAddress ?? IPAddress.Loopback);
        string address = form["email"].ToString().Trim().ToLowerInvariant();
        RateLimitRequest[] requests = [new($"{policy}:ip:{ip}", perIp), new($"{policy}:addr:{address}", perAddress)];
        RateLimitDecision decision = await store.AcquireAsync(requests, new RateLimitEntry[2], http.RequestAborted);
        if (!decision.IsAllowed)
        {
            await FriendlyLimitPage.WriteAsync(http, headline, decision.RetryAfter);
            return Results.Empty;
        }

        return await next(context);
    }
}
