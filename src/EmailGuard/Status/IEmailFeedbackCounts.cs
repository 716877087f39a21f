namespace EmailGuard;

/// <summary>
/// Reads the per-party feedback counts every instance shares through the store, for admin screens and the ratio
/// breakers. Counts are rolling over <see cref="EmailFeedbackOptions.CountWindow"/>.
/// </summary>
/// <remarks>
/// Every call waits on the store at most <see cref="StoreResilienceOptions.Timeout"/>; a store that does not answer
/// makes it throw <see cref="EmailGuardStoreUnavailableException"/>.
/// </remarks>
public interface IEmailFeedbackCounts
{
    /// <summary>Reads the counts of one party.</summary>
    /// <param name="dimension">
    /// <see cref="EmailGuardDimension.Global"/>, <see cref="EmailGuardDimension.Tenant"/>, <see cref="EmailGuardDimension.User"/>,
    /// <see cref="EmailGuardDimension.Sender"/>, <see cref="EmailGuardDimension.Category"/> or <see cref="EmailGuardDimension.ClientIp"/>
    /// (the client network).
    /// </param>
    /// <param name="partition">
    /// The party as <see cref="EmailSendAttribution"/> names it: a tenant or user id, a sender address, a category, or a
    /// client network in CIDR notation (an address is grouped as the guard groups it); ignored for the global counts.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The counts.</returns>
    /// <exception cref="ArgumentException">The dimension is not one of those above, or the partition is missing or invalid (an id of only whitespace included).</exception>
    ValueTask<EmailFeedbackCounts> GetAsync(EmailGuardDimension dimension, string? partition, CancellationToken cancellationToken = default);

    /// <summary>Reads the global counts and those of every party named in <paramref name="query"/>, in one store call.</summary>
    /// <param name="query">
    /// The parties, as for <see cref="IEmailSendGuard.GetStatusAsync"/>; the recipient is ignored. A
    /// <see cref="EmailGuardStatusQuery.TenantPool"/> is read by its name trimmed and in lower case, whether or not it has
    /// rules (a pool without them counts nothing, so its counts are 0), not the tenant's pool: only the send guard's
    /// status looks that up.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// The counts, global first, then tenant, user, sender, category, client network and tenant pool as given; a pool's
    /// read as <see cref="EmailGuardDimension.Tenant"/> with the partition <c>pool:&lt;name&gt;</c>.
    /// </returns>
    /// <exception cref="ArgumentException">A party is not valid for its dimension: an empty, blank (only whitespace) or over-long id, an invalid address or network, a pool name empty or longer than 256 characters.</exception>
    ValueTask<IReadOnlyList<EmailFeedbackCounts>> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default);
}
