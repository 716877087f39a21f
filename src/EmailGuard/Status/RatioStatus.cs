namespace EmailGuard;

/// <summary>
/// The ratios part of <see cref="IEmailSendGuard.GetStatusAsync"/>: the feedback counts of the queried parties
/// (<see cref="IEmailFeedbackCounts.GetStatusAsync"/>, one store call) with where each party's ratio breaker stands.
/// </summary>
internal static class RatioStatus
{
    /// <param name="feedback">The feedback counts.</param>
    /// <param name="query">The queried parties.</param>
    /// <param name="invalidAddress">The queried sender, when it is not a valid address.</param>
    /// <param name="pool">The queried tenant's pool (its name in lower case), whose ratios and breaker come last; null for none.</param>
    /// <param name="state">The flags.</param>
    /// <param name="now">Now.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static async ValueTask<IReadOnlyList<EmailPartyRatioStatus>> ReadAsync(
        EmailGuardFeedback feedback, EmailGuardStatusQuery query, string? invalidAddress, string? pool, GuardStateSnapshot state, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        // An invalid sender is reported as the invalid address and left out here, as it is from the usage.
        EmailGuardStatusQuery parties = query.Sender is { } sender && string.Equals(sender, invalidAddress, StringComparison.Ordinal)
            ? new EmailGuardStatusQuery { TenantId = query.TenantId, UserId = query.UserId, Category = query.Category, ClientIp = query.ClientIp }
            : query;
        IReadOnlyList<EmailFeedbackCounts> counts;
        try
        {
            counts = await feedback.GetStatusAsync(parties, pool, cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException)
        {
            return [];
        }

        EmailPartyRatioStatus[] ratios = new EmailPartyRatioStatus[counts.Count];
        for (int i = 0; i < ratios.Length; i++)
        {
            ratios[i] = pool is not null && i == ratios.Length - 1
                ? RatioBreakerStates.ForPool(counts[i], pool, state, now)
                : RatioBreakerStates.For(counts[i], state, now);
        }

        return ratios;
    }
}
