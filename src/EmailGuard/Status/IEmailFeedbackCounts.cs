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
    /// <exception cref="ArgumentException">The dimension is not one of those above, or the partition is missing or invalid.</exception>
    ValueTask<EmailFeedbackCounts> GetAsync(EmailGuardDimension dimension, string? partition, CancellationToken cancellationToken = default);

    /// <summary>Reads the global counts and those of every party named in <paramref name="query"/>, in one store call.</summary>
    /// <param name="query">The parties, as for <see cref="IEmailSendGuard.GetStatusAsync"/>; the recipient is ignored.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The counts, global first, then tenant, user, sender, category and client network as given.</returns>
    ValueTask<IReadOnlyList<EmailFeedbackCounts>> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default);
}
