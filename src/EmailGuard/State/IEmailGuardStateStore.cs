namespace EmailGuard;

/// <summary>
/// Where blocklists, allowlists, flags and flag events live, shared by every app instance: in memory by default, in
/// Redis with the Redis package, or in a store of your own registered with
/// <see cref="Microsoft.Extensions.DependencyInjection.EmailGuardStoreBuilderExtensions.AddStateStore{TStore}(IEmailGuardBuilder)"/>.
/// </summary>
/// <remarks>
/// <para>
/// A store only stores: values arrive normalized, and filtering, paging and matching happen above it, so every store
/// behaves the same. Each instance keeps what <see cref="LoadAsync"/> returns in memory and reloads it when
/// <see cref="GetVersionAsync"/> changes, so reads on the request path never wait on the store.
/// </para>
/// <para>
/// Calls are bounded by <see cref="StoreResilienceOptions.Timeout"/> above the store, and a failure is logged, never
/// surfaced in a request; a store throws when it cannot reach its backend. New members may be added in later versions
/// with a default implementation, so a store written today keeps compiling. The shared contract suite
/// (<c>StateStoreContractTests</c>, see docs/custom-stores.md) pins this behaviour for every store.
/// </para>
/// </remarks>
public interface IEmailGuardStateStore
{
    /// <summary>
    /// Gets how long a store keeps a list entry after it expires, so that listings that include expired entries can
    /// still show it; once this has passed, <see cref="LoadAsync"/> no longer returns it, so expired entries cannot pile up.
    /// </summary>
    /// <value>Seven days.</value>
    static TimeSpan ExpiredEntryRetention => TimeSpan.FromDays(7);

    /// <summary>The most flag events a store keeps; it drops the oldest beyond this.</summary>
    const int MaxFlagEvents = 10_000;

    /// <summary>
    /// Gets a number that changes whenever a list entry or a flag is written or removed, never back to a value it had
    /// before: every instance reloads when it differs from the version it loaded.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The current version; 0 for a store nothing was ever written to.</returns>
    ValueTask<long> GetVersionAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Loads every list entry (including expired ones still retained, see <see cref="ExpiredEntryRetention"/>) and
    /// every flag not yet expired (<see cref="EmailGuardFlag.ExpiresAt"/> after now), with the version read before them.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The state.</returns>
    ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Loads the list entries written or removed since <paramref name="sinceVersion"/>, and every unexpired flag, so
    /// that an instance that already holds the state at that version need not load every list entry again.
    /// </summary>
    /// <remarks>
    /// The default returns <see langword="null"/>, and so does a store that keeps no record of changes that far back
    /// (it may keep a bounded number), or whose version is behind <paramref name="sinceVersion"/> (its data was lost):
    /// the caller then calls <see cref="LoadAsync"/>. A store that can lose acknowledged writes (a failover, a restore)
    /// must also answer <see langword="null"/> once its new writes have passed a version it lost: the caller's state at
    /// <paramref name="sinceVersion"/> is not the store's then, and applying the later changes would keep the lost ones. A list entry written and then removed since the version appears
    /// once, as removed; an entry written twice appears once, as stored now.
    /// </remarks>
    /// <param name="sinceVersion">The version the caller holds, as <see cref="GetVersionAsync"/> or a load returned it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The changes, or <see langword="null"/> when the caller must load everything.</returns>
    ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
        => new((EmailGuardStateChanges?)null);

    /// <summary>
    /// Records that a tenant's limits changed in the application's database (<see langword="null"/>: every tenant's),
    /// and changes the version, so that every instance drops its cached <see cref="ITenantLimitProvider"/> answer: the
    /// next <see cref="LoadChangesAsync"/> after the version it holds names the tenant in
    /// <see cref="EmailGuardStateChanges.TenantLimitsChanged"/> (or sets <see cref="EmailGuardStateChanges.AllTenantLimitsChanged"/>).
    /// </summary>
    /// <remarks>
    /// Nothing is stored but the change record: an instance that loads the state whole instead of by changes cannot tell
    /// which tenants changed, so it looks every tenant up again, serving the cached answers while the lookups run. A
    /// store that records these changes should therefore report changes too. The default records nothing and returns
    /// <see langword="false"/>, as a store written before this member does: the change then applies on the calling
    /// instance only, and is logged.
    /// </remarks>
    /// <param name="tenantId">The tenant, as <see cref="OutboundEmail.TenantId"/> names it; <see langword="null"/> for every tenant.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether the change is recorded for the other instances.</returns>
    ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken)
        => new(false);

    /// <summary>
    /// Adds a list entry, or replaces the one of the same <see cref="EmailGuardListEntry.Kind"/>,
    /// <see cref="EmailGuardListEntry.PartyType"/> and <see cref="EmailGuardListEntry.Value"/>, and changes the version.
    /// </summary>
    /// <param name="entry">The entry; its value is already normalized.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the entry is stored.</returns>
    ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// Removes a list entry and changes the version. A store may leave the version unchanged when there was nothing to
    /// remove.
    /// </summary>
    /// <param name="kind">The list.</param>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="value">The stored value, exactly (ordinal comparison).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether an entry was removed.</returns>
    ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a flag, or replaces the one of the same party and reason (the reason compared without regard to case), and
    /// changes the version. The store may drop the flag once it expires.
    /// </summary>
    /// <param name="flag">The flag.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the flag is stored.</returns>
    ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a flag, or replaces the one of the same party and reason, as <see cref="UpsertFlagAsync"/> does, and says in
    /// the same write which flag it replaced, so that flagging a party costs one store call before the flag is in force:
    /// the flag API tells a new incident from a repeat by it (<see cref="EmailGuardFlagArguments.Replaced"/>).
    /// </summary>
    /// <remarks>
    /// The default returns <see langword="null"/> and writes nothing, as does any store that cannot read and write a
    /// flag at once: the caller then reads the flags and calls <see cref="UpsertFlagAsync"/>, one store call more before
    /// the flag lands (a version read, or a catch-up on a store that changed).
    /// </remarks>
    /// <param name="flag">The flag.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// The flag the write replaced, or <see cref="EmailGuardFlagReplacement.None"/>; <see langword="null"/> when this
    /// store cannot say, and then nothing was written.
    /// </returns>
    ValueTask<EmailGuardFlagReplacement?> ReplaceFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
        => new((EmailGuardFlagReplacement?)null);

    /// <summary>
    /// Removes the flag of a party and reason (the reason compared without regard to case) and changes the version. A
    /// store may leave the version unchanged when there was nothing to remove.
    /// </summary>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="partyId">The party's id.</param>
    /// <param name="reason">The flag's reason.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether a flag was removed.</returns>
    ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken);

    /// <summary>Appends an event to the flag history, keeping at most <see cref="MaxFlagEvents"/>. The version does not change.</summary>
    /// <param name="flagEvent">The event.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the event is stored.</returns>
    ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken);

    /// <summary>Gets the most recent flag events, newest first.</summary>
    /// <param name="max">The most events to return; zero or less returns none.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>At most <paramref name="max"/> events, newest first.</returns>
    ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken);
}
