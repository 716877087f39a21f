using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Reservations: the same pipeline as a check (addresses, lists, flags, tenant limits, one plan of every dimension),
/// whose counters are taken in one <see cref="ResilientRateLimitStore.ReserveAsync(ReadOnlyMemory{RateLimitRequest}, TimeSpan, Memory{RateLimitEntry}, StoreFailureMode, StoreTimeBudget?, CancellationToken)"/> instead of an acquire. The wait
/// is the configured <see cref="SendGuardOptions.MaxReservationWait"/>, never the caller's, so no caller can hold the
/// shared budget further ahead than the app allows.
/// </summary>
internal sealed partial class EmailSendGuard
{
    public ValueTask<EmailSendDecision> ReserveAsync(OutboundEmail message, CancellationToken cancellationToken = default)
        => Committed(message, GuardOperation.Reserve, cancellationToken);

    /// <summary>The one store call of an evaluation, over the whole plan.</summary>
    /// <remarks>Not inlined: each call's task would be a local of <see cref="Acquire"/> of its own, zeroed on every check.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<RateLimitDecision> CallStore(
        GuardOperation operation, ReadOnlyMemory<RateLimitRequest> batch, Memory<RateLimitEntry> results, StoreTimeBudget budget, CancellationToken cancellationToken)
        => operation switch
        {
            GuardOperation.Check => _store.AcquireAsync(batch, results, _options.FailureMode, budget, cancellationToken),
            GuardOperation.Reserve => _store.ReserveAsync(batch, _options.MaxReservationWait, results, _options.FailureMode, budget, cancellationToken),
            _ => _store.PeekAsync(batch, results, budget, cancellationToken),
        };

    /// <summary>
    /// The request a denied reservation names: of the entries that did not fit, the one with the longest retry-after.
    /// The store names the first that did not fit now, which for a reservation is often the provider's bucket it would
    /// gladly have waited for, while what denied it is the full window behind (a tenant's hourly cap).
    /// </summary>
    private static int BindingDenial(RateLimitEntry[] entries, int count, int deniedIndex)
    {
        int binding = deniedIndex;
        TimeSpan longest = TimeSpan.MinValue;
        for (int i = 0; i < count; i++)
        {
            if (!entries[i].IsAllowed && entries[i].RetryAfter > longest)
            {
                binding = i;
                longest = entries[i].RetryAfter;
            }
        }

        return binding;
    }

    /// <summary>An admitted reservation: how far ahead it lies, for the queue's operator.</summary>
    private void Reserved(OutboundEmail message, DateTimeOffset sendAt)
    {
        TimeSpan wait = sendAt - _timeProvider.GetUtcNow();
        _metrics?.RecordReservationWait(wait);
        if (wait > TimeSpan.Zero)
        {
            string shownTenantId = LogValue.Of(message.TenantId) ?? "-";
            LogReservedAhead(_logger, wait, shownTenantId);
        }
    }

    [LoggerMessage(EventId = 2320, EventName = "SendReservedAhead", Level = LogLevel.Debug,
        Message = "Send reserved {Wait:c} ahead, at the provider's pace; tenant {TenantId}.")]
    private static partial void LogReservedAhead(ILogger logger, TimeSpan wait, string tenantId);
}
