namespace EmailGuard;

/// <summary>
/// The ratios part of <see cref="IEmailSendGuard.GetStatusAsync"/>: the feedback counts of the queried parties
/// (<see cref="IEmailFeedbackCounts.GetStatusAsync"/>, one store call) with where each party's ratio breaker stands.
/// </summary>
internal static class RatioStatus
{
    public static async ValueTask<IReadOnlyList<EmailPartyRatioStatus>> ReadAsync(
        EmailGuardFeedback feedback, EmailGuardStatusQuery query, string? invalidAddress, GuardStateSnapshot state, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // An invalid sender is reported as the invalid address and left out here, as it is from the usage.
        EmailGuardStatusQuery parties = query.Sender is { } sender && string.Equals(sender, invalidAddress, StringComparison.Ordinal)
            ? new EmailGuardStatusQuery { TenantId = query.TenantId, UserId = query.UserId, Category = query.Category, ClientIp = query.ClientIp }
            : query;
        IReadOnlyList<EmailFeedbackCounts> counts;
        try
        {
            counts = await feedback.GetStatusAsync(parties, cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException)
        {
            return [];
        }

        EmailPartyRatioStatus[] ratios = new EmailPartyRatioStatus[counts.Count];
        for (int i = 0; i < ratios.Length; i++)
        {
            ratios[i] = RatioBreakerStates.For(counts[i], state, now);
        }

        return ratios;
    }
}
