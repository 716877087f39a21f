using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

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
    private readonly ListChangeTokens _changes;

    public EmailGuardLists(GuardStateCache state, IOptions<SendGuardOptions> options, TimeProvider timeProvider, ILogger<EmailGuardLists>? logger = null)
    {
        _state = state;
        _timeProvider = timeProvider;
        _normalization = options.Value.AddressNormalization;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _changes = new ListChangeTokens(_logger);
    }

    public IChangeToken GetChangeToken(EmailGuardPartyType partyType) => _changes.Get(partyType);

    /// <summary>
    /// Reloads this instance's view after a write, then, when the write <paramref name="changed"/> the lists, fires the
    /// party type's change token: after the reload, so a watcher that reads the lists at once reads the change, and
    /// whatever became of the reload, since the change is in the store.
    /// </summary>
    private async ValueTask ReloadAfterWriteAsync(EmailGuardPartyType partyType, bool changed, CancellationToken cancellationToken)
    {
        try
        {
            await _state.ReloadAfterWriteAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (changed)
            {
                _changes.Signal(partyType);
            }
        }
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
        if (partyType == EmailGuardPartyType.ClientNetwork && ListedNetworks.TooWide(kind, value, normalized) is { } tooWide)
        {
            // Allowlisted, every client (or, with a few such entries, every client) would be exempt from every endpoint
            // limit and client-network cap, as EmailGuard:Endpoints:AllowlistedNetworks refuses at startup; blocklisted,
            // every client it covers would be refused.
            throw new ArgumentException(tooWide, nameof(value));
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
        await ReloadAfterWriteAsync(partyType, changed: true, cancellationToken).ConfigureAwait(false);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            string expiry = entry.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never";
            string shownReason = LogValue.Of(entry.Reason), shownBy = LogValue.Of(addedBy) ?? "an unnamed caller";
            LogListed(_logger, kind, partyType, shownReason, shownBy, expiry);
        }
        return entry;
    }

    public async ValueTask<bool> RemoveAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken = default)
    {
        CheckKind(kind);
        string normalized;
        try
        {
            normalized = GuardPartyValues.Normalize(partyType, value, _normalization);
        }
        catch (ArgumentException) when (partyType is not (EmailGuardPartyType.Category or EmailGuardPartyType.TenantPool) && Enum.IsDefined(partyType) && !string.IsNullOrWhiteSpace(value))
        {
            // An entry stored in a form that no longer normalizes (an older version's, a write straight into the state
            // store) is matched and listed as it is stored (GuardPartyValues.MatchForm), so it is removed as it is stored;
            // refused, it could not be removed at all. A value no entry is stored as is refused as before.
            GuardStateSnapshot stored = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
            if (!stored.StoredValues(kind, partyType, value).Contains(value, StringComparer.Ordinal))
            {
                throw;
            }

            normalized = value;
        }

        bool removed = await _state.Store.RemoveListEntryAsync(kind, partyType, normalized, cancellationToken).ConfigureAwait(false);

        // Entries stored in another spelling of the same party (older versions, direct writes) go too. The snapshot's
        // index keeps the stored values of each match form, so this reads none of the other entries.
        GuardStateSnapshot snapshot = await _state.LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        foreach (string other in snapshot.StoredValues(kind, partyType, normalized))
        {
            removed |= await _state.Store.RemoveListEntryAsync(kind, partyType, other, cancellationToken).ConfigureAwait(false);
        }

        await ReloadAfterWriteAsync(partyType, removed, cancellationToken).ConfigureAwait(false);
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
        EntryOrder order = new(query.OrderBy, query.IsDescending);

        // Only the entries up to the page's end are kept, in a heap whose top is the last of them: a page of a list of a
        // million suppressions costs the page, not a sorted copy of the list (every dashboard view of the lists asks).
        // A page deeper than half the list is cheaper sorted whole.
        long end = (long)query.Skip + query.Take;
        List<EmailGuardListEntry>? all = end > data.ListEntries.Count / 2 ? [] : null;
        PriorityQueue<EmailGuardListEntry, EmailGuardListEntry> firsts = new(all is null ? (int)end : 0, Comparer<EmailGuardListEntry>.Create((a, b) => order.Compare(b, a)));
        int total = 0;
        foreach (EmailGuardListEntry entry in data.ListEntries)
        {
            if (!Matches(entry, query, now))
            {
                continue;
            }

            total++;
            if (all is not null)
            {
                all.Add(entry);
            }
            else if (firsts.Count < end)
            {
                firsts.Enqueue(entry, entry);
            }
            else if (order.Compare(entry, firsts.Peek()) < 0)
            {
                firsts.DequeueEnqueue(entry, entry);
            }
        }

        if (all is null)
        {
            all = new List<EmailGuardListEntry>(firsts.Count);
            while (firsts.TryDequeue(out EmailGuardListEntry? entry, out _))
            {
                all.Add(entry);
            }

            all.Reverse();
        }
        else
        {
            all.Sort(order);
        }

        return new EmailGuardListPage([.. all.Skip(query.Skip).Take(query.Take)], total, query.Skip, query.Take);
    }

    private static bool Matches(EmailGuardListEntry e, EmailGuardListQuery query, DateTimeOffset now)
        => e.Kind == query.Kind
            && (query.PartyType is not { } type || e.PartyType == type)
            && (query.IncludeExpired || e.IsActive(now))
            && (string.IsNullOrEmpty(query.Reason) || string.Equals(e.Reason, query.Reason, StringComparison.OrdinalIgnoreCase))
            && (string.IsNullOrEmpty(query.Search)
                || e.Value.Contains(query.Search, StringComparison.OrdinalIgnoreCase)
                || e.Reason.Contains(query.Search, StringComparison.OrdinalIgnoreCase)
                || (e.CreatedBy?.Contains(query.Search, StringComparison.OrdinalIgnoreCase) ?? false));

    /// <summary>
    /// A listing's order: its sort key, ascending or descending, then party type and value, a stable tie-break that
    /// keeps pages from overlapping when many entries share a sort value (values are unique per list and party type).
    /// </summary>
    private sealed class EntryOrder(EmailGuardListOrder orderBy, bool descending) : IComparer<EmailGuardListEntry>
    {
        public int Compare(EmailGuardListEntry? x, EmailGuardListEntry? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            if (x is null || y is null)
            {
                return x is null ? -1 : 1;
            }

            int byKey = orderBy switch
            {
                EmailGuardListOrder.Value => StringComparer.Ordinal.Compare(x.Value, y.Value),
                EmailGuardListOrder.ExpiresAt => (x.ExpiresAt ?? DateTimeOffset.MaxValue).CompareTo(y.ExpiresAt ?? DateTimeOffset.MaxValue),
                EmailGuardListOrder.Reason => StringComparer.OrdinalIgnoreCase.Compare(x.Reason, y.Reason),
                _ => x.CreatedAt.CompareTo(y.CreatedAt),
            };
            if (byKey != 0)
            {
                return descending ? -byKey : byKey;
            }

            int byType = x.PartyType.CompareTo(y.PartyType);
            return byType != 0 ? byType : StringComparer.Ordinal.Compare(x.Value, y.Value);
        }
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
