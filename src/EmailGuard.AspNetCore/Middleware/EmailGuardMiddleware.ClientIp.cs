using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

internal sealed partial class EmailGuardMiddleware
{
    private int _missingClientIpWarningLogged;

    /// <summary>
    /// Applies <see cref="EmailGuardEndpointOptions.MissingClientIp"/> to a request that has no client address and is
    /// counted per IP; returns false when the request was answered.
    /// </summary>
    private async ValueTask<bool> CheckClientIpAsync(HttpContext context, EndpointGuardState state, EmailRateLimitPolicy? pathRule, EmailRateLimitPolicy? policy)
    {
        if (context.Connection.RemoteIpAddress is not null
            || (policy?.HasClientIpPartition != true && pathRule?.HasClientIpPartition != true))
        {
            return true;
        }

        MissingClientIpBehavior behavior = state.Options.MissingClientIp;
        if (Interlocked.Exchange(ref _missingClientIpWarningLogged, 1) == 0)
        {
            ClientIpLog.MissingClientIp(_logger, behavior);
        }

        if (behavior != MissingClientIpBehavior.Reject || !MissingClientIp.IsRequired(pathRule, policy))
        {
            return true;
        }

        string name = policy?.Name ?? pathRule!.Name;
        const string Problem = "The client's network address is unknown, so this request cannot be rate limited.";
        Log.BodyFieldRejected(_logger, StatusCodes.Status400BadRequest, name, Problem);
        _metrics.Decision(name, "invalid_request");
        await _rejections.WriteInvalidAsync(context, StatusCodes.Status400BadRequest, Problem).ConfigureAwait(false);
        return false;
    }

    private static partial class ClientIpLog
    {
        [LoggerMessage(EventId = 1500, EventName = "MissingClientIp", Level = LogLevel.Warning,
            Message = "A request limited per client IP has no Connection.RemoteIpAddress; EmailGuard:Endpoints:MissingClientIp is {Behavior}. " +
                "Behind a Unix socket or a proxy, configure ForwardedHeadersOptions and call app.UseForwardedHeaders() before app.UseEmailGuard(). This warning is logged once.")]
        public static partial void MissingClientIp(ILogger logger, MissingClientIpBehavior behavior);
    }
}
