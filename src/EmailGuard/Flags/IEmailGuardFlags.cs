namespace EmailGuard;

/// <summary>
/// Flags and suspensions of users and tenants, shared by every instance through the guard's state store. Every flag and
/// clear is recorded as an <see cref="EmailGuardFlagEvent"/>.
/// </summary>
/// <remarks>
/// Every method waits on the store at most <see cref="StoreResilienceOptions.Timeout"/> per call; a store that does not
/// answer, fails, or is known to be down makes it throw <see cref="EmailGuardStoreUnavailableException"/>, never the
/// store client's own exception.
/// </remarks>
public interface IEmailGuardFlags
{
    /// <summary>
    /// Flags a user or tenant. The reason's <see cref="FlagPolicy"/> decides whether limits are reduced or sending is
    /// suspended. Flagging again with the same reason replaces the flag.
    /// </summary>
    /// <param name="partyType">
    /// <see cref="EmailGuardPartyType.User"/>, <see cref="EmailGuardPartyType.Tenant"/>, <see cref="EmailGuardPartyType.Category"/>
    /// (lower case; the category's limits are reduced), or <see cref="EmailGuardPartyType.TenantPool"/> (lower case; the
    /// pool's rules are reduced, or every tenant in it suspended).
    /// </param>
    /// <param name="partyId">The user or tenant id, the category, or the tenant pool's name.</param>
    /// <param name="reason">The reason, e.g. <see cref="EmailGuardFlagReasons.HighBounceRate"/>.</param>
    /// <param name="duration">How long the flag lasts; <see langword="null"/> for the policy's duration.</param>
    /// <param name="flaggedBy">Who flagged the party.</param>
    /// <param name="metadata">Free-form details to record.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The flag.</returns>
    ValueTask<EmailGuardFlag> FlagAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string reason,
        TimeSpan? duration = null,
        string? flaggedBy = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Clears a party's active flags of one reason, or all of them. Each flag cleared is recorded as a
    /// <see cref="EmailGuardFlagEventKind.Cleared"/> event with <paramref name="comment"/>; a clear that finds no active flag
    /// records nothing.
    /// </summary>
    /// <param name="partyType">
    /// <see cref="EmailGuardPartyType.User"/>, <see cref="EmailGuardPartyType.Tenant"/>, <see cref="EmailGuardPartyType.Category"/>
    /// (lower case; the category's limits are reduced), or <see cref="EmailGuardPartyType.TenantPool"/> (lower case; the
    /// pool's rules are reduced, or every tenant in it suspended).
    /// </param>
    /// <param name="partyId">The user or tenant id, the category, or the tenant pool's name.</param>
    /// <param name="flagReason">Which flags to clear: those set with this reason (case-insensitive); <see langword="null"/> clears every flag.</param>
    /// <param name="comment">Why the flags are cleared, e.g. "false positive: the bounces were a provider outage"; recorded in the events.</param>
    /// <param name="clearedBy">Who cleared them.</param>
    /// <param name="metadata">Free-form details to record.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The number of active flags cleared.</returns>
    ValueTask<int> ClearAsync(
        EmailGuardPartyType partyType,
        string partyId,
        string? flagReason = null,
        string? comment = null,
        string? clearedBy = null,
        IReadOnlyDictionary<string, string>? metadata = null,
        CancellationToken cancellationToken = default);

    /// <summary>Returns a party's active flags.</summary>
    /// <param name="partyType">
    /// <see cref="EmailGuardPartyType.User"/>, <see cref="EmailGuardPartyType.Tenant"/>, <see cref="EmailGuardPartyType.Category"/>
    /// (lower case; the category's limits are reduced), or <see cref="EmailGuardPartyType.TenantPool"/> (lower case; the
    /// pool's rules are reduced, or every tenant in it suspended).
    /// </param>
    /// <param name="partyId">The user or tenant id, the category, or the tenant pool's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The active flags.</returns>
    ValueTask<IReadOnlyList<EmailGuardFlag>> GetActiveFlagsAsync(EmailGuardPartyType partyType, string partyId, CancellationToken cancellationToken = default);

    /// <summary>Returns recorded flag events, newest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The events.</returns>
    ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetEventsAsync(EmailGuardFlagEventQuery query, CancellationToken cancellationToken = default);
}
