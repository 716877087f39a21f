namespace EmailGuard;

/// <summary>
/// What <see cref="IEmailGuardStateStore.LoadChangesAsync"/> returns: the list entries written or removed since a
/// version, and every flag when a flag changed, so that an instance brings its view up to date without loading every
/// list entry again.
/// </summary>
/// <remarks>
/// Flags come whole, and only when one was written or removed since the version: there is at most one per party and
/// reason, and they expire, but a catch-up after each suppression must not read them all. List entries come as
/// changes: the suppressions that feedback writes grow with the mail an app sends, and reading all of them after each
/// write made every instance's work grow with the square of the list.
/// </remarks>
public sealed class EmailGuardStateChanges
{
    /// <summary>Creates the changes.</summary>
    /// <param name="sinceVersion">The version the changes start after, as the caller asked.</param>
    /// <param name="version">
    /// The version read before the changes were read, so that a write that lands during the read makes the next version
    /// check ask again. The changes may include writes after it; applying them twice changes nothing.
    /// </param>
    /// <param name="listEntries">
    /// Every list entry written since <paramref name="sinceVersion"/>, as the store holds it now (expired entries still
    /// retained included).
    /// </param>
    /// <param name="removedListEntries">Every list entry removed since <paramref name="sinceVersion"/> and not written again.</param>
    /// <param name="flags">
    /// Every unexpired flag, as <see cref="EmailGuardStateData.Flags"/>; <see langword="null"/> when no flag was written or
    /// removed since <paramref name="sinceVersion"/>, so the caller keeps the flags it holds. A store may always give them.
    /// </param>
    public EmailGuardStateChanges(
        long sinceVersion,
        long version,
        IReadOnlyList<EmailGuardListEntry> listEntries,
        IReadOnlyList<EmailGuardListEntryKey> removedListEntries,
        IReadOnlyList<EmailGuardFlag>? flags)
    {
        ArgumentNullException.ThrowIfNull(listEntries);
        ArgumentNullException.ThrowIfNull(removedListEntries);
        SinceVersion = sinceVersion;
        Version = version;
        ListEntries = listEntries;
        RemovedListEntries = removedListEntries;
        Flags = flags;
    }

    /// <summary>Gets the version the changes start after.</summary>
    public long SinceVersion { get; }

    /// <summary>Gets the version the changes bring the caller to.</summary>
    public long Version { get; }

    /// <summary>Gets the list entries written since <see cref="SinceVersion"/>, as stored now.</summary>
    public IReadOnlyList<EmailGuardListEntry> ListEntries { get; }

    /// <summary>Gets the list entries removed since <see cref="SinceVersion"/> (or expired past retention) and not written again.</summary>
    public IReadOnlyList<EmailGuardListEntryKey> RemovedListEntries { get; }

    /// <summary>Gets every unexpired flag, or <see langword="null"/> when no flag changed since <see cref="SinceVersion"/>.</summary>
    public IReadOnlyList<EmailGuardFlag>? Flags { get; }

    /// <summary>
    /// Gets the tenants whose limits changed since <see cref="SinceVersion"/> (see
    /// <see cref="IEmailGuardStateStore.RecordTenantLimitsChangeAsync"/>): every instance drops their cached answers.
    /// </summary>
    /// <value>The default value is empty.</value>
    public IReadOnlyList<string> TenantLimitsChanged { get; init; } = [];

    /// <summary>Gets whether every tenant's limits changed since <see cref="SinceVersion"/>.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool AllTenantLimitsChanged { get; init; }
}
