using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// Records a change of tenant limits in the state store, so that every instance's <see cref="GuardStateCache"/> reports
/// it to its guard, and drops the cached answers on this instance whatever became of the store.
/// </summary>
internal sealed partial class EmailGuardTenantLimits : IEmailGuardTenantLimits
{
    private readonly EmailSendGuard _guard;
    private readonly GuardStateCache _state;
    private readonly ILogger _logger;

    public EmailGuardTenantLimits(EmailSendGuard guard, GuardStateCache state, ILogger<EmailGuardTenantLimits>? logger = null)
    {
        _guard = guard;
        _state = state;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public ValueTask InvalidateAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        // An id of only whitespace names no tenant the operator can flag, list or look up (IEmailGuardFlags and
        // IEmailGuardLists refuse it), so it is refused here as they refuse it, not recorded as a change of "   ".
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantId);
        return ApplyAsync(tenantId, cancellationToken);
    }

    public ValueTask InvalidateAllAsync(CancellationToken cancellationToken = default) => ApplyAsync(null, cancellationToken);

    private async ValueTask ApplyAsync(string? tenantId, CancellationToken cancellationToken)
    {
        try
        {
            if (!await _state.Store.RecordTenantLimitsChangeAsync(tenantId, cancellationToken).ConfigureAwait(false))
            {
                LogNotShared(_logger, tenantId is null ? "every tenant" : "tenant " + LogValue.Of(tenantId), _state.Store.Inner.GetType().Name);
                return;
            }

            // Brings this instance's snapshot to the recorded version, so that its next refresh does not report the
            // change again (and drop an answer looked up after it).
            await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Here whatever became of the store: the caller's next check on this instance must not use the old limits.
            _guard.InvalidateTenantLimits(tenantId is null ? null : [tenantId]);
        }
    }

    [LoggerMessage(EventId = 2998, EventName = "TenantLimitsChangeNotShared", Level = LogLevel.Warning,
        Message = "The state store {StoreType} does not record changes of tenant limits (IEmailGuardStateStore.RecordTenantLimitsChangeAsync): the new limits of {Tenants} apply on this instance now, and on the others when their cached answers expire.")]
    private static partial void LogNotShared(ILogger logger, string tenants, string storeType);
}
