using System.Threading.RateLimiting;
using EmailGuard;
using Microsoft.AspNetCore.RateLimiting;

// Usage: EmailGuard.LoadTests --urls http://127.0.0.1:PORT [--store memory|redis] [--redis host:port]
// Every limit is far above what wrk can send, so nothing is ever rejected: the run measures overhead only. The
// exception is /flood, one request a minute per client: wrk's single client is over it for all but its first request,
// which is the flood the Redis store's over-limit cache answers locally.
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();

string store = builder.Configuration["store"] ?? "memory";
IEmailGuardBuilder emailGuard = builder.Services.AddEmailGuard();
if (store == "redis")
{
    LoadTestRedis.AddStore(
        emailGuard,
        builder.Configuration["redis"] ?? throw new InvalidOperationException("--redis host:port is required with --store redis"),
        builder.Configuration.GetValue<TimeSpan?>("overLimitMaxAge"));
}

// LoadTest:Limit lets the end-to-end tests (WebApplicationFactory<Program>) run the same app with a small limit.
long limit = builder.Configuration.GetValue("LoadTest:Limit", RateLimitRule.MaxLimit);
emailGuard.AddEndpointPolicies(o =>
{
    o.AddPolicy("load", p => p.PerClientIp(RateLimitRule.PerMinute(limit)));
    o.AddPolicy("flood", p => p.PerClientIp(RateLimitRule.PerMinute(1)));
});

builder.Services.AddRateLimiter(o => o.AddPolicy("builtin", context => RateLimitPartition.GetFixedWindowLimiter(
    context.Connection.RemoteIpAddress?.ToString() ?? "none",
    _ => new FixedWindowRateLimiterOptions { PermitLimit = int.MaxValue, Window = TimeSpan.FromMinutes(1) })));

WebApplication app = builder.Build();
app.UseRouting();
app.UseRateLimiter();
app.UseEmailGuard();

app.MapGet("/bare", () => "ok");
app.MapGet("/builtin", () => "ok").RequireRateLimiting("builtin");
app.MapGet("/emailguard", () => "ok").RequireEmailRateLimit("load");
app.MapGet("/flood", () => "ok").RequireEmailRateLimit("flood");
// The same answer a flood gets (status, headers and a problem body of the same length), written by no limiter at all:
// the floor for /flood, since the larger answer costs Kestrel and wrk (on the same cores) more than "ok" does.
byte[] floodBody = "{\"type\":\"https://www.rfc-editor.org/rfc/rfc6585#section-4\",\"title\":\"Too Many Requests\",\"status\":429,\"detail\":\"Too many requests. Try again in 30 seconds.\",\"retryAfter\":30,\"policy\":\"flood\"}"u8.ToArray();
app.MapGet("/bare-429", (HttpContext context) =>
{
    HttpResponse response = context.Response;
    response.StatusCode = StatusCodes.Status429TooManyRequests;
    response.Headers.RetryAfter = "30";
    response.Headers["RateLimit-Policy"] = "\"flood.ip.60s\";q=1;w=60";
    response.Headers["RateLimit"] = "\"flood.ip.60s\";r=0;t=30";
    response.ContentType = "application/problem+json";
    response.ContentLength = floodBody.Length;
    return response.Body.WriteAsync(floodBody, 0, floodBody.Length, context.RequestAborted);
});
app.MapGet("/ready", () => store);
// Bytes allocated by the process so far: read before and after a run, divided by its requests, the bytes per request.
app.MapGet("/gc-allocated", () => GC.GetTotalAllocatedBytes(precise: true).ToString(System.Globalization.CultureInfo.InvariantCulture));
if (store == "redis")
{
    LoadTestRedis.MapRawEndpoint(app);
}

app.Run();

/// <summary>The entry point, public so that <c>WebApplicationFactory&lt;Program&gt;</c> can start this app in tests.</summary>
public partial class Program;
