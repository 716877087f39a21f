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
    /// <param name="tenantPool">The queried tenant's pool (its name in lower case), whose ratios and breaker follow the parties'; null for none.</param>
    /// <param name="queriedPool">The queried tenant pool when it is known and not the tenant's (its name in lower case), whose ratios come last; null for none.</param>
    /// <param name="state">The flags.</param>
    /// <param name="now">Now.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static async ValueTask<IReadOnlyList<EmailPartyRatioStatus>> ReadAsync(
        EmailGuardFeedback feedback, EmailGuardStatusQuery query, string? invalidAddress, string? tenantPool, string? queriedPool, GuardStateSnapshot state,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        // An invalid sender is reported as the invalid address and left out here, as it is from the usage; an unknown
        // pool is left out too, and a known one is read under the name the guard counts it by.
        bool invalidSender = query.Sender is { } sender && string.Equals(sender, invalidAddress, StringComparison.Ordinal);
        EmailGuardStatusQuery parties = new()
        {
            TenantId = query.TenantId,
            UserId = query.UserId,
            Sender = invalidSender ? null : query.Sender,
            Category = query.Category,
            ClientIp = query.ClientIp,
            TenantPool = queriedPool,
        };
        IReadOnlyList<EmailFeedbackCounts> counts;
        try
        {
            counts = await feedback.GetStatusAsync(parties, tenantPool, cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException)
        {
            return [];
        }

        // The pools' counts come last, the tenant's pool first: judged by the pools' flags, not a tenant's.
        string[] pools = [.. new[] { tenantPool, queriedPool }.OfType<string>()];
        EmailPartyRatioStatus[] ratios = new EmailPartyRatioStatus[counts.Count];
        for (int i = 0; i < ratios.Length; i++)
        {
            int pool = i - (ratios.Length - pools.Length);
            ratios[i] = pool >= 0
                ? RatioBreakerStates.ForPool(counts[i], pools[pool], state, now)
                : RatioBreakerStates.For(counts[i], state, now);
        }

        return ratios;
    }
}
