using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

internal sealed partial class EmailGuardMiddleware
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 201, EventName = "RequestRejected", Level = LogLevel.Information,
            Message = "Request rejected by EmailGuard policy '{Policy}' ({Partition} limit {Limit} per {Window}); retry after {RetryAfterSeconds} s.")]
        public static partial void RequestRejected(ILogger logger, string policy, string partition, long limit, TimeSpan window, long retryAfterSeconds);

        [LoggerMessage(EventId = 202, EventName = "ShadowModeWouldReject", Level = LogLevel.Information,
            Message = "EmailGuard policy '{Policy}' is in shadow mode and would have rejected this request ({Partition} limit {Limit} per {Window}).")]
        public static partial void ShadowWouldReject(ILogger logger, string policy, string partition, long limit, TimeSpan window);

        [LoggerMessage(EventId = 203, EventName = "ForwardedForWithoutTrustedProxy", Level = LogLevel.Warning,
            Message = "Requests carry X-Forwarded-For but no trusted proxy is configured, so EmailGuard partitions by the connection's address. " +
                "Behind a reverse proxy, configure ForwardedHeadersOptions (ForwardedHeaders, KnownProxies or KnownIPNetworks) and call app.UseForwardedHeaders() before app.UseEmailGuard(). This warning is logged once.")]
        public static partial void ForwardedForWithoutTrustedProxy(ILogger logger);

        [LoggerMessage(EventId = 204, EventName = "StoreUnavailableRejected", Level = LogLevel.Warning,
            Message = "Request rejected because the rate-limit store is unavailable and EmailGuard policy '{Policy}' fails closed.")]
        public static partial void StoreUnavailableRejected(ILogger logger, string policy);

        [LoggerMessage(EventId = 205, EventName = "BodyFieldRejected", Level = LogLevel.Debug,
            Message = "Request rejected with {StatusCode} before EmailGuard policy '{Policy}' could read its body field: {Reason}")]
        public static partial void BodyFieldRejected(ILogger logger, int statusCode, string policy, string reason);

        [LoggerMessage(EventId = 3053, EventName = "MethodChangedAfterRouting", Level = LogLevel.Warning,
            Message = "A request reached the endpoint '{Endpoint}' with the method '{Method}', which the endpoint does not take: a middleware rewrote the method after routing chose the endpoint, most likely app.UseHttpMethodOverride() called after app.UseRouting(). " +
                "The endpoint still runs as the method routing matched, so EmailGuard decides the request as '{RoutedMethod}'. Call UseHttpMethodOverride() before UseRouting(). This warning is logged once.")]
        public static partial void MethodChangedAfterRouting(ILogger logger, string endpoint, string method, string routedMethod);

        [LoggerMessage(EventId = 3118, EventName = "RequestUncounted", Level = LogLevel.Warning,
            Message = "{Requests} request(s) to EmailGuard policy '{Policy}' since this warning was last logged were counted in none of its partitions ({Partitions}): each carried no value for any of them, so the policy's limits did not apply to it. " +
                "A client that leaves the values out (an anonymous request, a tenant header left off, or dropped by a gateway) is then not limited by this policy. {Advice} " +
                "Logged at most once every {Interval} per policy; the metric emailguard.endpoint.uncounted_requests counts each.")]
        public static partial void RequestUncounted(ILogger logger, string policy, string partitions, long requests, string advice, TimeSpan interval);

        [LoggerMessage(EventId = 3119, EventName = "PartitionValueMissingRejected", Level = LogLevel.Debug,
            Message = "Request rejected with 400 by EmailGuard policy '{Policy}': it carries no value for the policy's {Partition} partition, and the policy's WhenValueMissing is Reject.")]
        public static partial void PartitionValueMissingRejected(ILogger logger, string policy, string partition);

        [LoggerMessage(EventId = 1805, EventName = "ClientNetworkDenied", Level = LogLevel.Information,
            Message = "Request to EmailGuard policy '{Policy}' rejected with 403 because its client network is on the deny list ({Network}).")]
        public static partial void ClientNetworkDenied(ILogger logger, string policy, string network);
    }
}
