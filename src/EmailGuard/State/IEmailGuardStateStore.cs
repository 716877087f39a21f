namespace EmailGuard;

/// <summary>
/// Where blocklists, allowlists, flags and flag events live, shared by every instance: in memory by default, in Redis
/// with the Redis package. Values arrive normalized; filtering, paging and matching happen above the store, so every
/// store behaves the same.
/// </summary>
internal interface IEmailGuardStateStore
{
    /// <summary>A number that changes whenever lists or flags change, so instances can tell when to reload.</summary>
    ValueTask<long> GetVersionAsync(CancellationToken cancellationToken);

    /// <summary>Every list entry (expired ones that are still retained included) and every unexpired flag.</summary>
    ValueTask<GuardStateData> LoadAsync(CancellationToken cancellationToken);

    ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken);

    ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken);

    ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken);

    ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken);

    ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken);

    /// <summary>The most recent flag events, newest first, at most <paramref name="max"/>.</summary>
    ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken);
}
