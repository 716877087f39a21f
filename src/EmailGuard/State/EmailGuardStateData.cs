namespace EmailGuard;

/// <summary>
/// What <see cref="IEmailGuardStateStore.LoadAsync"/> returns: the lists and flags an instance keeps in memory, as
/// loaded at one version.
/// </summary>
/// <remarks>
/// A class rather than a positional record so that it can carry more kinds of state later without breaking stores
/// that build it today.
/// </remarks>
public sealed class EmailGuardStateData
{
    /// <summary>Creates the loaded state.</summary>
    /// <param name="version">
    /// The version read before the state was read (see <see cref="IEmailGuardStateStore.GetVersionAsync"/>), so that a
    /// write that lands during the load makes the next version check reload.
    /// </param>
    /// <param name="listEntries">Every blocklist and allowlist entry, including expired ones still retained.</param>
    /// <param name="flags">Every unexpired flag.</param>
    public EmailGuardStateData(long version, IReadOnlyList<EmailGuardListEntry> listEntries, IReadOnlyList<EmailGuardFlag> flags)
    {
        ArgumentNullException.ThrowIfNull(listEntries);
        ArgumentNullException.ThrowIfNull(flags);
        Version = version;
        ListEntries = listEntries;
        Flags = flags;
    }

    /// <summary>Gets the version the state was loaded at.</summary>
    public long Version { get; }

    /// <summary>Gets every blocklist and allowlist entry, including expired ones the store still retains.</summary>
    public IReadOnlyList<EmailGuardListEntry> ListEntries { get; }

    /// <summary>Gets every unexpired flag.</summary>
    public IReadOnlyList<EmailGuardFlag> Flags { get; }
}
