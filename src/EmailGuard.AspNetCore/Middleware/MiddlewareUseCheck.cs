using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns once the app has started when endpoints require an EmailGuard policy, or path rules are configured, and
/// <c>UseEmailGuard()</c> was never called: no path rule applies, and endpoints that require a policy refuse every
/// request they would limit with 500 (<see cref="UnguardedEndpoints"/>).
/// </summary>
internal sealed partial class MiddlewareUseCheck(
    MiddlewareUse use,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : StartedCheck(lifetime)
{
    protected override void Check()
    {
        if (use.Used)
        {
            return;
        }

        string[] limited =
        [
            .. (services.GetService<EndpointDataSource>()?.Endpoints ?? [])
                .Where(e => e.Metadata.GetMetadata<IEmailRateLimitMetadata>() is { PolicyName: not null }
                    || e.Metadata.GetMetadata<PageHandlerRateLimits>()?.Handlers.Length > 0)
                .Select(e => e.DisplayName ?? "(unnamed)"),
        ];
        int pathRules = services.GetService<IOptions<EmailGuardEndpointOptions>>()?.Value.PathRules.Count ?? 0;
        if (limited.Length > 0 || pathRules > 0)
        {
            LogNotUsed(loggers.CreateLogger<EmailGuardMiddleware>(), limited.Length, limited.FirstOrDefault() ?? "none", pathRules);
        }
    }

    [LoggerMessage(EventId = 2975, EventName = "MiddlewareNotUsed", Level = LogLevel.Warning,
        Message = "{Endpoints} endpoint(s) require an EmailGuard policy (the first: '{Endpoint}') and {PathRules} path rule(s) are configured, but app.UseEmailGuard() was never called: no path rule applies, and those endpoints refuse the requests their policy covers with 500. Call it after UseRouting(), UseAuthentication() and UseForwardedHeaders().")]
    private static partial void LogNotUsed(ILogger logger, int endpoints, string endpoint, int pathRules);
}
