using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// The blocklist and allowlist admin API over the state store. Listing reads the store, not this instance's cached
/// view, so an admin screen shows changes made by every instance.
/// </summary>
internal sealed partial class EmailGuardLists : IEmailGuardLists
{
    private readonly GuardStateCache _state;
    private readonly TimeProvider _timeProvider;
    private readonly EmailAddressNormalizationOptions _normalization;
    private readonly ILogger _logger;

    public EmailGuardLists(GuardStateCache state, IOptions<SendGuardOptions> options, TimeProvider timeProvider, ILogger<EmailGuardLists>? logger = null)
    {
        _state = state;
        _timeProvider = timeProvider;
        _normalization = options.Value.AddressNormalization;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    public async ValueTask<EmailGuardListEntry> AddAsync(
        EmailGuardListKind kind,
        EmailGuardPartyType partyType,
        string value,
        string reason,
        TimeSpan? duration = null,
        string? addedBy = null,
        CancellationToken cancellationToken = default)
    {
        CheckKind(kind);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (duration is { } d && d <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "The duration must be positive, or null for no expiry.");
        }

        string normalized = GuardPartyValues.Normalize(partyType, value, _normalization);
        if (kind == EmailGuardListKind.Allowlist && partyType == EmailGuardPartyType.ClientNetwork && normalized.EndsWith("/0", StringComparison.Ordinal))
        {
            // Every client: one call would exempt every request from every endpoint limit and client-network cap, as
            // EmailGuard:Endpoints:AllowlistedNetworks refuses at startup.
            throw new ArgumentException(
                $"'{value}' is every address and would exempt every client from every limit; allowlist the networks to trust.", nameof(value));
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        EmailGuardListEntry entry = new()
        {
            Kind = kind,
            PartyType = partyType,
            Value = normalized,
            Reason = reason.Trim(),
            CreatedBy = addedBy,
            CreatedAt = now,
            ExpiresAt = duration is { } length ? now + length : null,
        };

        await _state.Store.UpsertListEntryAsync(entry, cancellationToken).ConfigureAwait(false);
        await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            string expiry = entry.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never";
            LogListed(_logger, kind, partyType, entry.Reason, addedBy ?? "an unnamed caller", expiry);
        }
        return entry;
    }

    public async ValueTask<bool> RemoveAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
    {
        CheckKind(kind);
        string normalized = GuardPartyValues.Normalize(partyType, value, _normalization);
        bool removed = await _state.Store.RemoveListEntryAsync(kind, partyType, normalized, cancellationToken).ConfigureAwait(false);

        // Entries stored in another spelling of the same party (older versions, direct writes) go too. The snapshot's
        // index keeps the stored values of each match form, so this reads none of the other entries.
        GuardStateSnapshot snapshot = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        foreach (string other in snapshot.StoredValues(kind, partyType, normalized))
        {
            removed |= await _state.Store.RemoveListEntryAsync(kind, partyType, other, cancellationToken).ConfigureAwait(false);
        }

        await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);
        if (removed)
        {
            LogUnlisted(_logger, kind, partyType);
        }
        else
        {
            LogNothingToUnlist(_logger, kind, partyType);
        }
        return removed;
    }

    public async ValueTask<EmailGuardListEntry?> FindAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
    {
        CheckKind(kind);
        string normalized = GuardPartyValues.Normalize(partyType, value, _normalization);
        GuardStateSnapshot snapshot = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        return kind == EmailGuardListKind.Blocklist ? snapshot.FindBlocked(partyType, normalized, now) : snapshot.FindAllowed(partyType, normalized, now);
    }

    public async ValueTask<EmailGuardListPage> ListAsync(EmailGuardListQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        CheckKind(query.Kind);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Skip, nameof(query.Skip));
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Take, 1, nameof(query.Take));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.Take, EmailGuardListQuery.MaxTake, nameof(query.Take));

        EmailGuardStateData data = await _state.LoadCurrentAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        IEnumerable<EmailGuardListEntry> matches = data.ListEntries.Where(e =>
            e.Kind == query.Kind
            && (query.PartyType is not { } type || e.PartyType == type)
            && (query.IncludeExpired || e.IsActive(now))
            && (string.IsNullOrEmpty(query.Reason) || string.Equals(e.Reason, query.Reason, StringComparison.OrdinalIgnoreCase))
            && (string.IsNullOrEmpty(query.Search)
                || e.Value.Contains(query.Search, StringComparison.OrdinalIgnoreCase)
                || e.Reason.Contains(query.Search, StringComparison.OrdinalIgnoreCase)
                || (e.CreatedBy?.Contains(query.Search, StringComparison.OrdinalIgnoreCase) ?? false)));

        IOrderedEnumerable<EmailGuardListEntry> ordered = query.OrderBy switch
        {
            EmailGuardListOrder.Value => Order(matches, e => e.Value, query.IsDescending, StringComparer.Ordinal),
            EmailGuardListOrder.ExpiresAt => Order(matches, e => e.ExpiresAt ?? DateTimeOffset.MaxValue, query.IsDescending, Comparer<DateTimeOffset>.Default),
            EmailGuardListOrder.Reason => Order(matches, e => e.Reason, query.IsDescending, StringComparer.OrdinalIgnoreCase),
            _ => Order(matches, e => e.CreatedAt, query.IsDescending, Comparer<DateTimeOffset>.Default),
        };

        // A stable tie-break keeps pages from overlapping when many entries share a sort value.
        List<EmailGuardListEntry> all = [.. ordered.ThenBy(e => e.PartyType).ThenBy(e => e.Value, StringComparer.Ordinal)];
        return new EmailGuardListPage([.. all.Skip(query.Skip).Take(query.Take)], all.Count, query.Skip, query.Take);
    }

    public async ValueTask<IReadOnlyDictionary<string, int>> CountByReasonAsync(EmailGuardListKind kind, bool includeExpired = false, CancellationToken cancellationToken = default)
    {
        CheckKind(kind);
        EmailGuardStateData data = await _state.LoadCurrentAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        Dictionary<string, int> counts = new(StringComparer.OrdinalIgnoreCase);
        foreach (EmailGuardListEntry entry in data.ListEntries)
        {
            if (entry.Kind == kind && (includeExpired || entry.IsActive(now)))
            {
                counts[entry.Reason] = counts.GetValueOrDefault(entry.Reason) + 1;
            }
        }

        return counts;
    }

    private static IOrderedEnumerable<EmailGuardListEntry> Order<TKey>(IEnumerable<EmailGuardListEntry> entries, Func<EmailGuardListEntry, TKey> key, bool descending, IComparer<TKey> comparer)
        => descending ? entries.OrderByDescending(key, comparer) : entries.OrderBy(key, comparer);

    private static void CheckKind(EmailGuardListKind kind)
    {
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown list.");
        }
    }

    [LoggerMessage(EventId = 430, EventName = "ListEntryAdded", Level = LogLevel.Information,
        Message = "An entry was added to the {Kind} for a {PartyType} for {Reason} by {AddedBy}; expiry: {ExpiresAt}.")]
    private static partial void LogListed(ILogger logger, EmailGuardListKind kind, EmailGuardPartyType partyType, string reason, string addedBy, string expiresAt);

    [LoggerMessage(EventId = 431, EventName = "ListEntryRemoved", Level = LogLevel.Information,
        Message = "An entry for a {PartyType} was removed from the {Kind}.")]
    private static partial void LogUnlisted(ILogger logger, EmailGuardListKind kind, EmailGuardPartyType partyType);

    [LoggerMessage(EventId = 2071, EventName = "ListEntryNotFound", Level = LogLevel.Information,
        Message = "No {Kind} entry for a {PartyType} was found to remove.")]
    private static partial void LogNothingToUnlist(ILogger logger, EmailGuardListKind kind, EmailGuardPartyType partyType);
}
