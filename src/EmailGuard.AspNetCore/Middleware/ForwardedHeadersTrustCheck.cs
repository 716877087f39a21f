using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns once the app has started when limits count per client IP while the app takes <c>X-Forwarded-For</c> from
/// every sender with a <c>ForwardLimit</c> other than 1 (<see cref="ForwardedHeadersCheck.TrustsEverySender"/>): any
/// client then sets its own address, and a per-IP limit holds no one. Event 203 does not fire in that setup, since a
/// proxy is trusted and the header is applied; EmailGuard cannot know the topology, so it says what it sees.
/// </summary>
internal sealed partial class ForwardedHeadersTrustCheck(
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : StartedCheck(lifetime)
{
    protected override void Check()
    {
        ForwardedHeadersOptions? forwarded = services.GetService<IOptions<ForwardedHeadersOptions>>()?.Value;
        if (!ForwardedHeadersCheck.TrustsEverySender(forwarded))
        {
            return;
        }

        var limits = new List<string>();
        if (services.GetService<EndpointGuardStateProvider>()?.Current is { } state)
        {
            limits.AddRange(state.Policies.Values
                .Where(static p => p is { HasClientIpPartition: true, ShadowMode: false })
                .Select(static p => $"policy '{p.Name}'")
                .Order(StringComparer.Ordinal));
            if (state.PathRules.HasClientIpPartition)
            {
                limits.Add(EmailGuardEndpointOptions.ConfigurationSectionName + ":PathRules");
            }
        }

        if (EndpointGuardStateProvider.SendGuardOf(services) is { ClientIp.Rules.Count: > 0 })
        {
            limits.Add(SendGuardOptions.ConfigurationSectionName + ":ClientIp");
        }

        if (limits.Count > 0)
        {
            string limit = forwarded!.ForwardLimit is { } hops ? hops.ToString(CultureInfo.InvariantCulture) : "null (no limit)";
            LogTrustsEverySender(loggers.CreateLogger<EmailGuardMiddleware>(), limit, string.Join(", ", limits));
        }
    }

    [LoggerMessage(EventId = 2994, EventName = "ForwardedForTrustedFromEverySender", Level = LogLevel.Warning,
        Message = "ForwardedHeadersOptions applies X-Forwarded-For from every sender (no KnownProxies or KnownIPNetworks, as ASPNETCORE_FORWARDEDHEADERS_ENABLED=true leaves them) with ForwardLimit {ForwardLimit}, " +
            "so any client can set the address that {ClientIpLimits} count by and escape those limits by changing it. Add your proxies to KnownProxies or KnownIPNetworks, " +
            "or, behind exactly one proxy that every request passes through, set ForwardLimit = 1. This warning is logged once, at start.")]
    private static partial void LogTrustsEverySender(ILogger logger, string forwardLimit, string clientIpLimits);
}
