using Microsoft.Extensions.Logging;

namespace EmailGuard;

internal sealed partial class EmailSendGuard
{
    [LoggerMessage(EventId = 400, EventName = "SendLimitExceeded", Level = LogLevel.Information,
        Message = "Send denied: a {Dimension} limit is exceeded for tenant {TenantId} and user {UserId}; retry after {RetryAfter:c}.")]
    private static partial void WriteLimitExceeded(ILogger logger, EmailGuardDimension dimension, string tenantId, string userId, TimeSpan retryAfter);

    [LoggerMessage(EventId = 3080, EventName = "SendTenantPoolLimitExceeded", Level = LogLevel.Information,
        Message = "Send denied: the limit of the tenant pool {Pool}, which tenant {TenantId} shares with others, is exceeded; user {UserId}; retry after {RetryAfter:c}.")]
    private static partial void WritePoolLimitExceeded(ILogger logger, string pool, string tenantId, string userId, TimeSpan retryAfter);

    [LoggerMessage(EventId = 401, EventName = "SendBlocklisted", Level = LogLevel.Information,
        Message = "Send denied: the {Dimension} is blocklisted for {Reason}; tenant {TenantId}, user {UserId}.")]
    private static partial void WriteBlocked(ILogger logger, EmailGuardDimension dimension, string reason, string tenantId, string userId);

    [LoggerMessage(EventId = 402, EventName = "SendSuspended", Level = LogLevel.Information,
        Message = "Send denied: the {Dimension} is suspended for {Reason}; tenant {TenantId}, user {UserId}.")]
    private static partial void WriteSuspended(ILogger logger, EmailGuardDimension dimension, string reason, string tenantId, string userId);

    [LoggerMessage(EventId = 403, EventName = "SendInvalidAddress", Level = LogLevel.Information,
        Message = "Send denied: a {Dimension} address is invalid ({Error}); tenant {TenantId}, user {UserId}.")]
    private static partial void WriteInvalidAddress(ILogger logger, EmailGuardDimension dimension, string error, string tenantId, string userId);

    [LoggerMessage(EventId = 404, EventName = "SendTooManyRecipients", Level = LogLevel.Information,
        Message = "Send denied: the message has {Recipients} recipients and at most {Max} are allowed; tenant {TenantId}.")]
    private static partial void WriteTooManyRecipients(ILogger logger, int recipients, int max, string tenantId);

    [LoggerMessage(EventId = 405, EventName = "SendNearLimit", Level = LogLevel.Information,
        Message = "A {Dimension} limit is nearly reached: {Count} of {Limit} are used; tenant {TenantId}.")]
    private static partial void WriteNearLimit(ILogger logger, EmailGuardDimension dimension, long count, long limit, string tenantId);

    [LoggerMessage(EventId = 406, EventName = "SendStoreUnavailable", Level = LogLevel.Warning,
        Message = "Send denied: the rate-limit store is unavailable and the failure mode is to deny; tenant {TenantId}.")]
    private static partial void WriteStoreUnavailable(ILogger logger, string tenantId);

    [LoggerMessage(EventId = 2936, EventName = "SendPartyIdTooLong", Level = LogLevel.Information,
        Message = "Send denied: the message's {Dimension} id is {Length} characters long, more than the {MaxBytes} UTF-8 bytes an id may have; the ids are not logged.")]
    private static partial void WritePartyIdTooLong(ILogger logger, EmailGuardDimension dimension, int length, int maxBytes);

    [LoggerMessage(EventId = 3138, EventName = "SendPartyIdBlank", Level = LogLevel.Information,
        Message = "Send denied: the message's {Dimension} id is empty or only white space ({Length} characters), which names no party flags, lists and feedback can act on; pass null for a message without one.")]
    private static partial void WritePartyIdBlank(ILogger logger, EmailGuardDimension dimension, int length);

    /// <summary>Stands in for a missing tenant, user or detail, so log lines read as sentences instead of "(null)".</summary>
    private const string None = "none";

    // The wrappers put "none" in place of a missing tenant, user or detail, so the lines read as sentences.
    private static void LogLimitExceeded(ILogger logger, EmailGuardDimension dimension, string? tenantId, string? userId, TimeSpan retryAfter)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownTenantId = LogValue.Of(tenantId) ?? None, shownUserId = LogValue.Of(userId) ?? None;
            WriteLimitExceeded(logger, dimension, shownTenantId, shownUserId, retryAfter);
        }
    }

    /// <summary>A tenant pool's denial (its partition <c>pool:&lt;name&gt;</c>), told from the tenant's own cap's (400).</summary>
    private static void LogPoolLimitExceeded(ILogger logger, string partition, string? tenantId, string? userId, TimeSpan retryAfter)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownPool = LogValue.Of(partition[TenantPoolRules.PartitionPrefix.Length..]) ?? None, shownTenantId = LogValue.Of(tenantId) ?? None, shownUserId = LogValue.Of(userId) ?? None;
            WritePoolLimitExceeded(logger, shownPool, shownTenantId, shownUserId, retryAfter);
        }
    }

    private static void LogBlocked(ILogger logger, EmailGuardDimension dimension, string reason, string? tenantId, string? userId)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownReason = LogValue.Of(reason), shownTenantId = LogValue.Of(tenantId) ?? None, shownUserId = LogValue.Of(userId) ?? None;
            WriteBlocked(logger, dimension, shownReason, shownTenantId, shownUserId);
        }
    }

    private static void LogSuspended(ILogger logger, EmailGuardDimension dimension, string reason, string? tenantId, string? userId)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownReason = LogValue.Of(reason), shownTenantId = LogValue.Of(tenantId) ?? None, shownUserId = LogValue.Of(userId) ?? None;
            WriteSuspended(logger, dimension, shownReason, shownTenantId, shownUserId);
        }
    }

    private static void LogInvalidAddress(ILogger logger, EmailGuardDimension dimension, string? error, string? tenantId, string? userId)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownError = LogValue.Of(error) ?? None, shownTenantId = LogValue.Of(tenantId) ?? None, shownUserId = LogValue.Of(userId) ?? None;
            WriteInvalidAddress(logger, dimension, shownError, shownTenantId, shownUserId);
        }
    }

    private static void LogPartyIdTooLong(ILogger logger, EmailGuardDimension dimension, int length, int maxBytes)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            WritePartyIdTooLong(logger, dimension, length, maxBytes);
        }
    }

    private static void LogPartyIdBlank(ILogger logger, EmailGuardDimension dimension, int length)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            WritePartyIdBlank(logger, dimension, length);
        }
    }

    private static void LogTooManyRecipients(ILogger logger, int recipients, int max, string? tenantId)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownTenantId = LogValue.Of(tenantId) ?? None;
            WriteTooManyRecipients(logger, recipients, max, shownTenantId);
        }
    }

    private static void LogNearLimit(ILogger logger, EmailGuardDimension dimension, long count, long limit, string? tenantId)
    {
        if (logger.IsEnabled(LogLevel.Information))
        {
            string shownTenantId = LogValue.Of(tenantId) ?? None;
            WriteNearLimit(logger, dimension, count, limit, shownTenantId);
        }
    }

    private static void LogStoreUnavailable(ILogger logger, string? tenantId)
    {
        if (logger.IsEnabled(LogLevel.Warning))
        {
            string shownTenantId = LogValue.Of(tenantId) ?? None;
            WriteStoreUnavailable(logger, shownTenantId);
        }
    }
}
