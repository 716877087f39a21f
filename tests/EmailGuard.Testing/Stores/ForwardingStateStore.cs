namespace EmailGuard.Testing.Stores;

/// <summary>
/// A state store that passes every call to another, for tests and measurements that change one call: hold a change
/// read, or answer no changes as a store written before <see cref="IEmailGuardStateStore.LoadChangesAsync"/> does.
/// </summary>
/// <param name="inner">The store calls go to.</param>
public class ForwardingStateStore(IEmailGuardStateStore inner) : IEmailGuardStateStore
{
    /// <summary>Gets the store calls go to.</summary>
    protected IEmailGuardStateStore Inner => inner;

    /// <inheritdoc />
    public virtual ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
        => inner.LoadChangesAsync(sinceVersion, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<long> GetVersionAsync(CancellationToken cancellationToken) => inner.GetVersionAsync(cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken) => inner.LoadAsync(cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken)
        => inner.RecordTenantLimitsChangeAsync(tenantId, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken) => inner.UpsertListEntryAsync(entry, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
        => inner.RemoveListEntryAsync(kind, partyType, value, cancellationToken);

    /// <inheritdoc />
    public ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken) => inner.UpsertFlagAsync(flag, cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask<EmailGuardFlagReplacement?> ReplaceFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken) => inner.ReplaceFlagAsync(flag, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
        => inner.RemoveFlagAsync(partyType, partyId, reason, cancellationToken);

    /// <inheritdoc />
    public ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken) => inner.AppendFlagEventAsync(flagEvent, cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken) => inner.GetFlagEventsAsync(max, cancellationToken);
}
