namespace EmailGuard;

/// <summary>
/// Where a party's ratio breaker stands, read from the flags and lists it writes (no state of its own): a tenant, tenant pool or user
/// is tripped while a <c>high_bounce_rate</c> or <c>complaint_rate</c> flag is active and half-open while only the
/// half-open flag is; a client network is tripped while the breaker's ban is on the blocklist.
/// </summary>
internal static class RatioBreakerStates
{
    private static readonly string[] s_reasons = [EmailGuardFlagReasons.HighBounceRate, EmailGuardFlagReasons.ComplaintRate];

    public static EmailPartyRatioStatus For(EmailFeedbackCounts counts, GuardStateSnapshot state, DateTimeOffset now)
    {
        switch (counts.Dimension)
        {
            case EmailGuardDimension.Tenant when counts.Partition is { } tenant:
                // The counts show the tenant escaped when its id reads as a pool's partition; its flags name its id.
                return ForFlags(counts, [.. state.GetActiveFlags(EmailGuardPartyType.Tenant, TenantPartition.IdOf(tenant), now)]);
            case EmailGuardDimension.User when counts.Partition is { } user:
                return ForFlags(counts, [.. state.GetActiveFlags(EmailGuardPartyType.User, user, now)]);
            case EmailGuardDimension.Category when counts.Partition is { } category
                && AccountHold(state.GetActiveFlags(EmailGuardPartyType.Category, category, now)) is { } hold:
                return new EmailPartyRatioStatus
                {
                    Counts = counts,
                    BreakerState = EmailRatioBreakerState.Tripped,
                    BreakerReason = hold.Reason,
                    BreakerAction = EmailRatioBreakerAction.Reduced,
                    BreakerUntil = hold.ExpiresAt,
                };
            case EmailGuardDimension.ClientIp when state.FindBlocked(EmailGuardPartyType.ClientNetwork, counts.Partition, now) is { } ban
                && s_reasons.Contains(ban.Reason, StringComparer.OrdinalIgnoreCase):
                return new EmailPartyRatioStatus
                {
                    Counts = counts,
                    BreakerState = EmailRatioBreakerState.Tripped,
                    BreakerReason = ban.Reason,
                    BreakerAction = EmailRatioBreakerAction.NetworkBanned,
                    BreakerUntil = ban.ExpiresAt,
                };
            default:
                return Closed(counts);
        }
    }

    /// <summary>Where a tenant pool's breaker stands: its counts read as the tenant partition <c>pool:&lt;name&gt;</c>, its flags name the pool.</summary>
    public static EmailPartyRatioStatus ForPool(EmailFeedbackCounts counts, string pool, GuardStateSnapshot state, DateTimeOffset now)
        => ForFlags(counts, [.. state.GetActiveFlags(EmailGuardPartyType.TenantPool, pool, now)]);

    private static EmailGuardFlag? AccountHold(IEnumerable<EmailGuardFlag> active)
    {
        List<EmailGuardFlag> flags = [.. active];
        return RatioBreaker.FindFlag(flags, EmailGuardFlagReasons.AccountBounceRate) ?? RatioBreaker.FindFlag(flags, EmailGuardFlagReasons.AccountComplaintRate);
    }

    private static EmailPartyRatioStatus ForFlags(EmailFeedbackCounts counts, List<EmailGuardFlag> active)
    {
        // The strongest trip shows: a suspension over a reduction, then the one that lasts longer.
        EmailGuardFlag? trip = null;
        foreach (string reason in s_reasons)
        {
            if (RatioBreaker.FindFlag(active, reason) is { } flag
                && (trip is null || (flag.Suspend && !trip.Suspend) || (flag.Suspend == trip.Suspend && flag.ExpiresAt > trip.ExpiresAt)))
            {
                trip = flag;
            }
        }

        if (trip is not null)
        {
            return new EmailPartyRatioStatus
            {
                Counts = counts,
                BreakerState = EmailRatioBreakerState.Tripped,
                BreakerReason = trip.Reason,
                BreakerAction = trip.Suspend ? EmailRatioBreakerAction.Suspended : EmailRatioBreakerAction.Reduced,
                BreakerUntil = trip.ExpiresAt,
                HalfOpenUntil = RatioBreaker.FindFlag(active, RatioBreaker.HalfOpenReason(trip.Reason))?.ExpiresAt,
            };
        }

        foreach (string reason in s_reasons)
        {
            if (RatioBreaker.FindFlag(active, RatioBreaker.HalfOpenReason(reason)) is { } probe)
            {
                return new EmailPartyRatioStatus
                {
                    Counts = counts,
                    BreakerState = EmailRatioBreakerState.HalfOpen,
                    BreakerReason = reason,
                    BreakerAction = EmailRatioBreakerAction.Reduced,
                    BreakerUntil = probe.ExpiresAt,
                    HalfOpenUntil = probe.ExpiresAt,
                };
            }
        }

        return Closed(counts);
    }

    private static EmailPartyRatioStatus Closed(EmailFeedbackCounts counts)
        => new() { Counts = counts, BreakerState = EmailRatioBreakerState.Closed };
}
