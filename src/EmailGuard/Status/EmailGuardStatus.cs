namespace EmailGuard;

/// <summary>
/// Current usage against every rule of the queried parties, and their active flags: what an admin screen shows.
/// </summary>
public sealed class EmailGuardStatus
{
    internal EmailGuardStatus(
        IReadOnlyList<EmailSendRuleUsage> usage, IReadOnlyList<EmailGuardFlag> flags, DateTimeOffset timestamp, bool isStoreAvailable, string? invalidAddress,
        IReadOnlyList<EmailPartyRatioStatus>? ratios = null, string? unknownTenantPool = null, EmailGuardDimension invalidParty = EmailGuardDimension.None)
    {
        InvalidParty = invalidParty;
        UnknownTenantPool = unknownTenantPool;
        Ratios = ratios ?? [];
        Usage = usage;
        Flags = flags;
        Timestamp = timestamp;
        IsStoreAvailable = isStoreAvailable;
        InvalidAddress = invalidAddress;
    }

    /// <summary>
    /// Gets the usage of every rule, global first, then tenant (the tenant's own rules, then its pool's, then those of the
    /// queried <see cref="EmailGuardStatusQuery.TenantPool"/> when it is another pool), sender, user, client IP, category,
    /// recipient and domain.
    /// </summary>
    public IReadOnlyList<EmailSendRuleUsage> Usage { get; }

    /// <summary>
    /// Gets the bounce and complaint ratios of the global scope and of each queried tenant, user, sender, category and
    /// client network, in that order, then of the tenant's pool and of the queried tenant pool (once when they are the
    /// same; a pool's counts read as the tenant partition <c>pool:&lt;name&gt;</c>), with the counts behind them and the
    /// state of their ratio breakers. Empty when feedback is not registered or its counts could not be read.
    /// </summary>
    public IReadOnlyList<EmailPartyRatioStatus> Ratios { get; }

    /// <summary>Gets the active flags of the queried tenant, its pool, the queried tenant pool, the user and the category.</summary>
    public IReadOnlyList<EmailGuardFlag> Flags { get; }

    /// <summary>Gets when the usage was read.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Gets whether the store answered; when it did not, <see cref="Usage"/> is empty.</summary>
    public bool IsStoreAvailable { get; }

    /// <summary>Gets a queried address that is not valid and was therefore left out, if any.</summary>
    public string? InvalidAddress { get; }

    /// <summary>
    /// Gets the first of the queried tenant, user and category whose id a check refuses as
    /// <see cref="EmailSendReason.InvalidParty"/> (longer than a message's attribution can carry, or empty or only white
    /// space), or
    /// <see cref="EmailGuardDimension.None"/>. Every such id was left out before anything was done with it: it has no
    /// usage, flags or ratios here, and no tenant limit provider was asked about it.
    /// </summary>
    public EmailGuardDimension InvalidParty { get; }

    /// <summary>
    /// Gets the queried <see cref="EmailGuardStatusQuery.TenantPool"/> as given, when no pool of that name has rules in
    /// <see cref="SendGuardOptions.TenantPools"/> (a typo, or a pool since removed): it caps no tenant, so it has no
    /// usage, flags or ratios to report and was left out. <see langword="null"/> when no pool was queried or it is known.
    /// </summary>
    public string? UnknownTenantPool { get; }
}
