using Microsoft.Extensions.Primitives;

namespace EmailGuard;

/// <summary>
/// The blocklist and the allowlist, shared by every instance through the guard's state store (Redis when Redis is
/// used). Values are normalized as the guard normalizes them, so an entry for <c>Victim+x@Example.com</c> matches
/// <c>victim@example.com</c>.
/// </summary>
/// <remarks>
/// Every method waits on the store at most <see cref="StoreResilienceOptions.Timeout"/> per call; a store that does not
/// answer, fails, or is known to be down makes it throw <see cref="EmailGuardStoreUnavailableException"/>, never the
/// store client's own exception.
/// </remarks>
public interface IEmailGuardLists
{
    /// <summary>Adds or replaces an entry.</summary>
    /// <param name="kind">The list.</param>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="value">The address, domain, tenant id, user id or client network (an IP address or CIDR network).</param>
    /// <param name="reason">Why the party is listed.</param>
    /// <param name="duration">How long the entry applies; <see langword="null"/> for no expiry.</param>
    /// <param name="addedBy">Who adds it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The entry as stored.</returns>
    /// <exception cref="ArgumentException">
    /// The value is not a valid address, domain or network, the reason is empty, or the value is a client network wider
    /// than a /8 of IPv4 or a /32 of IPv6 (<c>0.0.0.0/0</c>, <c>::/0</c>, <c>0.0.0.0/1</c>), on either list: a few
    /// such networks allowlisted together exempt every client from every limit, and one blocklisted refuses a large part
    /// of the internet.
    /// </exception>
    ValueTask<EmailGuardListEntry> AddAsync(
        EmailGuardListKind kind,
        EmailGuardPartyType partyType,
        string value,
        string reason,
        TimeSpan? duration = null,
        string? addedBy = null,
        CancellationToken cancellationToken = default);

    /// <summary>Removes an entry.</summary>
    /// <param name="kind">The list.</param>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="value">The address, domain, tenant id, user id or client network (an IP address or CIDR network).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether an entry was removed.</returns>
    /// <exception cref="ArgumentException">
    /// The value is not a valid address, domain or network, and no entry is stored as it is (one an older version or a
    /// direct write to the state store left in a form the lists now refuse is removed as it is stored).
    /// </exception>
    ValueTask<bool> RemoveAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default);

    /// <summary>Returns the active entry for a party, or <see langword="null"/> when it is not listed (or its entry expired).</summary>
    /// <param name="kind">The list.</param>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="value">The address, domain, tenant id, user id or client network (an IP address or CIDR network).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The entry, or <see langword="null"/>.</returns>
    ValueTask<EmailGuardListEntry?> FindAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default);

    /// <summary>Returns one page of entries, filtered and ordered.</summary>
    /// <param name="query">The filter, order and page.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page.</returns>
    ValueTask<EmailGuardListPage> ListAsync(EmailGuardListQuery query, CancellationToken cancellationToken = default);

    /// <summary>Counts the entries of a list per reason.</summary>
    /// <param name="kind">The list.</param>
    /// <param name="includeExpired">Whether expired entries that are still retained count.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The counts, keyed by reason (case-insensitive).</returns>
    ValueTask<IReadOnlyDictionary<string, int>> CountByReasonAsync(EmailGuardListKind kind, bool includeExpired = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns a token that fires once an entry for <paramref name="partyType"/> has been added or removed through this
    /// object, on this instance. Watch it with <see cref="ChangeToken.OnChange(Func{IChangeToken?}, Action)"/>, which asks
    /// for a new token after each change, to re-read the lists at once instead of at the next periodic reading.
    /// </summary>
    /// <param name="partyType">The kind of party whose entries to watch (either list).</param>
    /// <returns>A token that fires after the next such write.</returns>
    /// <remarks>
    /// <para>
    /// The token fires after the write reached the store and this instance's own view of the lists was reloaded, so a
    /// watcher that reads the lists in its callback, or after it, reads the change. Callbacks run on the writer's call:
    /// keep them short (mark the copy stale, and read the lists later). A callback that throws does not fail the write;
    /// it is logged (event id 2986).
    /// </para>
    /// <para>
    /// Only writes through this instance fire it. Writes by other instances, and entries that expire, reach a watcher
    /// only when it reads the lists again, so a watcher still re-reads them periodically. An implementation that does
    /// not signal changes keeps this default, a token that never fires; a decorator forwards it to the object it wraps.
    /// </para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="partyType"/> is not a defined party type.</exception>
    IChangeToken GetChangeToken(EmailGuardPartyType partyType) => new CancellationChangeToken(CancellationToken.None);
}
