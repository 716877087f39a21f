using System.Buffers;

namespace EmailGuard;

/// <summary>
/// Refunds: an allowed decision's permits given back, with the send counts its store call took, and
/// <see cref="EmailGuardEvents.OnRefunded"/> raised for a refund the app asked for.
/// </summary>
internal sealed partial class EmailSendGuard
{
    public ValueTask<bool> RefundAsync(EmailSendDecision decision, CancellationToken cancellationToken = default)
    {
        ValueTask<bool> pending = GiveBackAsync(decision, cancellationToken);
        if (_options.Events.OnRefunded is null)
        {
            return pending;
        }

        return pending.IsCompletedSuccessfully ? new(Refunded(decision, pending.Result)) : RefundedAsync(decision, pending);
    }

    private async ValueTask<bool> RefundedAsync(EmailSendDecision decision, ValueTask<bool> pending)
        => Refunded(decision, await pending.ConfigureAwait(false));

    /// <summary>Raises <see cref="EmailGuardEvents.OnRefunded"/> for a refund that gave the permits back.</summary>
    private bool Refunded(in EmailSendDecision decision, bool refunded)
    {
        if (refunded && _options.Events.OnRefunded is { } onRefunded && decision.PendingAttribution.Message is { } message)
        {
            _events.Run(onRefunded, new EmailGuardRefundArguments(message, decision), nameof(EmailGuardEvents.OnRefunded));
        }

        return refunded;
    }

    /// <summary>
    /// Gives an allowed decision's permits back, at most once however often it was copied. The content steps call it
    /// directly: a check they refund was never reported allowed, so no <see cref="EmailGuardEvents.OnRefunded"/> follows.
    /// </summary>
    private async ValueTask<bool> GiveBackAsync(EmailSendDecision decision, CancellationToken cancellationToken)
    {
        if (!decision.IsRefundable)
        {
            return false;
        }

        GuardUsage usage = decision.UsageValues;
        RateLimitRequest[] requests = ArrayPool<RateLimitRequest>.Shared.Rent(usage.Length + EmailGuardFeedback.MaxSendCounts);
        try
        {
            for (int i = 0; i < usage.Length; i++)
            {
                requests[i] = usage.GetRequest(i);
            }

            int count = usage.Length + WriteRefundedSendCounts(decision, requests.AsSpan(usage.Length, EmailGuardFeedback.MaxSendCounts));
            return await _store.TryRefundAsync(requests.AsMemory(0, count), decision.Acquisition, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<RateLimitRequest>.Shared.Return(requests, clearArray: true);
        }
    }
}
