using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Counts a user's and a tenant's content-rule denials in the rate-limit store, and flags the party with
/// <see cref="EmailGuardFlagReasons.BulkContent"/> when its count reaches <see cref="BulkContentFlagOptions.Trips"/>
/// within <see cref="BulkContentFlagOptions.Period"/>.
/// </summary>
/// <remarks>
/// The count is a fixed-window rule with the threshold as its limit: the trip that brings it to the limit flags, later
/// trips in the window are denied by the store and flag nothing, so one burst writes one flag. A trip the store denies
/// still flags when the period has no bulk_content flag event of the party: a full in-memory store may read a new count
/// from its overflow sketch as past the limit from the first trip. Best effort: a store or state-store failure is
/// logged, never surfaced, and the message's own decision stands.
/// </remarks>
internal sealed partial class BulkContentMonitor
{
    private const string FlaggedBy = "emailguard:bulk_content";
    private readonly ResilientRateLimitStore _store;
    private readonly IEmailGuardFlags _flags;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly RateLimitRule? _rule;
    private readonly IdKeyCache _users = new(PartitionKeys.BulkContentUserPrefix);
    private readonly IdKeyCache _tenants = new(PartitionKeys.BulkContentTenantPrefix);

    public BulkContentMonitor(BulkContentFlagOptions options, ResilientRateLimitStore store, IEmailGuardFlags flags, TimeProvider timeProvider, ILogger logger)
    {
        _store = store;
        _flags = flags;
        _timeProvider = timeProvider;
        _logger = logger;
        _rule = options.Trips > 0 ? RateLimitRule.FixedWindow(options.Trips, options.Period) : null;
    }

    public bool Enabled => _rule is not null;

    /// <summary>
    /// Counts one content-rule denial of <paramref name="message"/> against its user and its tenant, each only when
    /// <paramref name="tripped"/> names it: when its own copies of the denying text alone exceed the rule
    /// (<see cref="ContentOwnCopies"/>). A party the denial is not a trip for is logged (3064), not counted.
    /// </summary>
    /// <param name="message">The denied message.</param>
    /// <param name="tripped">The parties whose own copies alone exceed a content rule that denied.</param>
    /// <param name="budget">
    /// The check's store time budget: each wait gets what is left of it; a count not made for want of it is not counted,
    /// as after a timeout, and a flag the check stops waiting for is written all the same.
    /// </param>
    public async ValueTask RecordTripAsync(OutboundEmail message, EmailGuardDimension tripped, StoreTimeBudget? budget = null)
    {
        if (_rule is null)
        {
            return;
        }

        if (message.UserId is { } user)
        {
            await CountIfOwnAsync(EmailGuardPartyType.User, user, _users, (tripped & EmailGuardDimension.User) != 0, budget).ConfigureAwait(false);
        }

        if (message.TenantId is { } tenant)
        {
            await CountIfOwnAsync(EmailGuardPartyType.Tenant, tenant, _tenants, (tripped & EmailGuardDimension.Tenant) != 0, budget).ConfigureAwait(false);
        }
    }

    private ValueTask CountIfOwnAsync(EmailGuardPartyType partyType, string partyId, IdKeyCache keys, bool own, StoreTimeBudget? budget)
    {
        if (own)
        {
            return CountAsync(partyType, partyId, keys.Get(partyId), _rule!, budget);
        }

        // The text's counter was full with others' copies: the text-wide cap denied, but this party alone would not have been.
        string shownPartyId = LogValue.Of(partyId);
        LogNotOwnCopies(_logger, partyType, shownPartyId);
        return ValueTask.CompletedTask;
    }

    private async ValueTask CountAsync(EmailGuardPartyType partyType, string partyId, string key, RateLimitRule rule, StoreTimeBudget? budget)
    {
        try
        {
            RateLimitRequest[] request = [new RateLimitRequest(key, rule, 1)];
            RateLimitEntry[] result = new RateLimitEntry[1];

            // Fail closed: during an outage no trip is counted and no one is flagged on a guess.
            RateLimitDecision decision = await _store.AcquireAsync(request, result, StoreFailureMode.FailClosed, budget, CancellationToken.None).ConfigureAwait(false);
            if (decision.Status == RateLimitStatus.LimitExceeded)
            {
                // Past the limit: an exact store flagged the trip that reached it, in this period. A full in-memory store
                // may have read a new counter from its overflow sketch, which a flood of any rule of the period's window
                // fills: then the counter is past the limit from the party's first trip, and no trip would ever flag it.
                // So a trip past the limit flags when the period has no bulk_content flag event of the party (an
                // operator's clear is one too, so a cleared flag is not set again within the period).
                if (await FlaggedThisPeriodAsync(partyType, partyId, rule, budget).ConfigureAwait(false))
                {
                    return;
                }
            }
            else if (decision.Status != RateLimitStatus.Allowed || result[0].Count < rule.Limit)
            {
                return;
            }

            await BoundedCall.WaitAsync(
                _flags.FlagAsync(
                    partyType,
                    partyId,
                    EmailGuardFlagReasons.BulkContent,
                    flaggedBy: FlaggedBy,
                    metadata: new Dictionary<string, string>(StringComparer.Ordinal)
                    {
                        ["trips"] = rule.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        ["period"] = rule.Window.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
                    },
                    cancellationToken: CancellationToken.None),
                StoreTimeBudget.Wait(budget, _store.Timeout),
                _timeProvider,
                CancellationToken.None).ConfigureAwait(false);
            LogFlagged(_logger, partyType, LogValue.Of(partyId), rule.Limit, rule.Window);
        }
        catch (Exception exception)
        {
            LogFailed(_logger, LogValue.Of(exception), partyType, LogValue.Of(partyId));
        }
    }

    /// <summary>
    /// Whether the party has a <see cref="EmailGuardFlagReasons.BulkContent"/> flag event (set or cleared, by anyone)
    /// since the current period began, on the app's clock, as the events are stamped. Read only for a trip past the limit.
    /// </summary>
    private async ValueTask<bool> FlaggedThisPeriodAsync(EmailGuardPartyType partyType, string partyId, RateLimitRule rule, StoreTimeBudget? budget)
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        DateTimeOffset periodStart = WindowMath.FromUnixMilliseconds(WindowMath.FixedWindowEnd(now, rule.WindowMilliseconds) - rule.WindowMilliseconds);
        IReadOnlyList<EmailGuardFlagEvent> events = await BoundedCall.WaitAsync(
            _flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyType = partyType, PartyId = partyId, Since = periodStart }, CancellationToken.None),
            StoreTimeBudget.Wait(budget, _store.Timeout),
            _timeProvider,
            CancellationToken.None).ConfigureAwait(false);
        return events.Any(e => string.Equals(e.Reason, EmailGuardFlagReasons.BulkContent, StringComparison.Ordinal));
    }

    [LoggerMessage(EventId = 3064, EventName = "BulkContentNotOwnCopies", Level = LogLevel.Information,
        Message = "The content rules denied a message of the {PartyType} {PartyId}, but its own copies of the text would have fit: not a bulk_content trip.")]
    private static partial void LogNotOwnCopies(ILogger logger, EmailGuardPartyType partyType, string partyId);

    [LoggerMessage(EventId = 2205, EventName = "BulkContentFlagged", Level = LogLevel.Warning,
        Message = "The {PartyType} {PartyId} hit the content rules {Trips} times within {Period:c} and is flagged bulk_content.")]
    private static partial void LogFlagged(ILogger logger, EmailGuardPartyType partyType, string partyId, long trips, TimeSpan period);

    [LoggerMessage(EventId = 2206, EventName = "BulkContentCountFailed", Level = LogLevel.Warning,
        Message = "Could not count a content-rule denial of the {PartyType} {PartyId}, or flag it.")]
    private static partial void LogFailed(ILogger logger, Exception exception, EmailGuardPartyType partyType, string partyId);
}
