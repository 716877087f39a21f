using Microsoft.Extensions.Logging;

namespace EmailGuard;

internal sealed partial class EmailSendGuard
{
    [LoggerMessage(EventId = 400, EventName = "SendLimitExceeded", Level = LogLevel.Information,
        Message = "Send denied: a {Dimension} limit is exceeded (tenant {TenantId}, user {UserId}); retry after {RetryAfter}.")]
    private static partial void LogLimitExceeded(ILogger logger, EmailGuardDimension dimension, string? tenantId, string? userId, TimeSpan retryAfter);

    [LoggerMessage(EventId = 401, EventName = "SendBlocklisted", Level = LogLevel.Information,
        Message = "Send denied: the {Dimension} is blocklisted ({Reason}) (tenant {TenantId}, user {UserId}).")]
    private static partial void LogBlocked(ILogger logger, EmailGuardDimension dimension, string reason, string? tenantId, string? userId);

    [LoggerMessage(EventId = 402, EventName = "SendSuspended", Level = LogLevel.Information,
        Message = "Send denied: the {Dimension} is suspended ({Reason}) (tenant {TenantId}, user {UserId}).")]
    private static partial void LogSuspended(ILogger logger, EmailGuardDimension dimension, string reason, string? tenantId, string? userId);

    [LoggerMessage(EventId = 403, EventName = "SendInvalidAddress", Level = LogLevel.Information,
        Message = "Send denied: a {Dimension} address is invalid: {Error} (tenant {TenantId}, user {UserId}).")]
    private static partial void LogInvalidAddress(ILogger logger, EmailGuardDimension dimension, string? error, string? tenantId, string? userId);

    [LoggerMessage(EventId = 404, EventName = "SendTooManyRecipients", Level = LogLevel.Information,
        Message = "Send denied: {Recipients} recipients, at most {Max} allowed (tenant {TenantId}).")]
    private static partial void LogTooManyRecipients(ILogger logger, int recipients, int max, string? tenantId);

    [LoggerMessage(EventId = 405, EventName = "SendNearLimit", Level = LogLevel.Information,
        Message = "A {Dimension} limit is nearly reached: {Count} of {Limit} (tenant {TenantId}).")]
    private static partial void LogNearLimit(ILogger logger, EmailGuardDimension dimension, long count, long limit, string? tenantId);

    [LoggerMessage(EventId = 406, EventName = "SendStoreUnavailable", Level = LogLevel.Warning,
        Message = "Send denied: the rate-limit store is unavailable and the failure mode is to deny (tenant {TenantId}).")]
    private static partial void LogStoreUnavailable(ILogger logger, string? tenantId);
}
