using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Flags a user (or a tenant, for messages without a user) with <see cref="EmailGuardFlagReasons.FanOut"/> when its
/// admitted mail goes mostly to recipients new to it (see <see cref="FanOutFlagOptions"/>). Who a party has sent to is
/// remembered in the shared key-value store, one key per party and recipient holding the time it was first seen, under
/// a hash, never the address; the period's new and known recipients are counted in the rate-limit store, so every
/// instance sees them.
/// </summary>
/// <remarks>
/// Best effort, after the message was admitted: a store or key-value failure is logged, never surfaced, and flags no
/// one on a guess. Counted and flagged at most once per period per party: the flag is claimed through a counter whose
/// limit is 1, so concurrent messages on several instances write one flag.
/// </remarks>
internal sealed partial class FanOutMonitor
{
    private const string FlaggedBy = "emailguard:fan_out";
    /// <summary>The prefix of every key-value key the monitor writes.</summary>
    internal const string KeyPrefix = "emailguard:fo:";

    private readonly FanOutFlagOptions _options;
    private readonly ResilientRateLimitStore _store;
    private readonly IEmailGuardKeyValueStore _recipients;
    private readonly IEmailGuardFlags _flags;
    private readonly AddressKeyCache _addresses;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly RateLimitRule _counter;
    private readonly RateLimitRule _once;
    private readonly IdKeyCache _userKeys = new(PartitionKeys.FanOutUserPrefix);
    private readonly IdKeyCache _tenantKeys = new(PartitionKeys.FanOutTenantPrefix);

    public FanOutMonitor(
        FanOutFlagOptions options,
        ResilientRateLimitStore store,
        IEmailGuardKeyValueStore recipients,
        IEmailGuardFlags flags,
        AddressKeyCache addresses,
        TimeProvider timeProvider,
        ILogger logger)
    {
        _options = options;
        _store = store;
        _recipients = recipients;
        _flags = flags;
        _addresses = addresses;
        _timeProvider = timeProvider;
        _logger = logger;
        _counter = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, options.Period);
        _once = RateLimitRule.FixedWindow(1, options.Period);
    }

    /// <summary>Counts an admitted message's recipients as new or known to its party, and flags the party when due.</summary>
    /// <param name="message">The admitted message.</param>
    /// <param name="budget">
    /// The check's store time budget: every wait gets what is left of it, and a wait cut short counts as a timeout of
    /// that step would (nothing counted, no one flagged; a flag already being written is written all the same).
    /// </param>
    public async ValueTask RecordAsync(OutboundEmail message, StoreTimeBudget? budget = null)
    {
        (EmailGuardPartyType partyType, string? partyId, IdKeyCache? keys) = message.UserId is { } user
            ? (EmailGuardPartyType.User, user, _userKeys)
            : (EmailGuardPartyType.Tenant, message.TenantId, _tenantKeys);
        if (partyId is null)
        {
            return;
        }

        try
        {
            if (budget is { IsSpent: true })
            {
                // The counters' wait spent the check's time: no store is asked, and the step fails as a timeout would.
                throw new TimeoutException("The check's store time budget was spent before the fan-out step.");
            }

            (int fresh, int known) = await ClassifyAsync(partyType, partyId, message, budget).ConfigureAwait(false);
            if (fresh == 0 && known == 0)
            {
                return;
            }

            string key = keys.Get(partyId);
            (long newCount, long knownCount) = await CountAsync(key, fresh, known, budget).ConfigureAwait(false);
            if (fresh == 0 || newCount < _options.NewRecipients || newCount < _options.NewShare * (newCount + knownCount))
            {
                return;
            }

            // One flag per period, whichever instance gets there first.
            RateLimitDecision claim = await _store.AcquireAsync(
                new[] { new RateLimitRequest(key + ":f", _once, 1) }, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailClosed, budget, CancellationToken.None).ConfigureAwait(false);
            if (claim.Status != RateLimitStatus.Allowed)
            {
                return;
            }

            await BoundedCall.WaitAsync(Flag(partyType, partyId, newCount, knownCount), StoreTimeBudget.Wait(budget, _store.Timeout), _timeProvider, CancellationToken.None).ConfigureAwait(false);
            LogFlagged(_logger, partyType, LogValue.Of(partyId), newCount, knownCount, _options.Period);
        }
        catch (Exception exception)
        {
            // The message was admitted and goes out; a count or flag that failed must not turn into a failed send.
            LogFailed(_logger, LogValue.Of(exception), partyType, LogValue.Of(partyId));
        }
    }

    /// <summary>
    /// Writes the fan-out flag. Not bounded by the flags API's own timeout alone: the check waits for it only what is
    /// left of its budget, and a write it stops waiting for goes on by itself.
    /// </summary>
    private ValueTask<EmailGuardFlag> Flag(EmailGuardPartyType partyType, string partyId, long newCount, long knownCount)
        => _flags.FlagAsync(
                partyType,
                partyId,
                EmailGuardFlagReasons.FanOut,
                flaggedBy: FlaggedBy,
                metadata: new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["new_recipients"] = newCount.ToString(CultureInfo.InvariantCulture),
                    ["known_recipients"] = knownCount.ToString(CultureInfo.InvariantCulture),
                    ["period"] = _options.Period.ToString("c", CultureInfo.InvariantCulture),
                },
                cancellationToken: CancellationToken.None);

    /// <summary>
    /// Looks up each distinct valid recipient (up to the maximum) and remembers the new ones: new is first seen now;
    /// known was first seen before the period began and is counted once per period; first seen earlier in the period is
    /// neither.
    /// </summary>
    private async Task<(int Fresh, int Known)> ClassifyAsync(EmailGuardPartyType partyType, string partyId, OutboundEmail message, StoreTimeBudget? budget)
    {
        HashSet<string> recipients = new(StringComparer.Ordinal);
        for (int i = 0; i < message.RecipientCount && recipients.Count < _options.MaxRecipientsPerMessage; i++)
        {
            if (_addresses.Get(message.GetRecipient(i)) is { IsValid: true } address)
            {
                recipients.Add(address.Address);
            }
        }

        if (recipients.Count == 0)
        {
            return (0, 0);
        }

        long nowMs = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        long periodMs = (long)_options.Period.TotalMilliseconds;
        long period = nowMs / periodMs;
        long periodStart = period * periodMs / 1000;
        string firstSeen = (nowMs / 1000).ToString(CultureInfo.InvariantCulture);
        string party = $"{(int)partyType}|{partyId}|";
        string[] distinct = [.. recipients];
        TimeSpan wait = StoreTimeBudget.Wait(budget, _store.Timeout);
        string?[] seen = await Task.WhenAll(distinct.Select(recipient => BoundedAsync(
            _recipients.GetOrAddAsync(RecipientKey(party + recipient), firstSeen, _options.Memory), wait))).ConfigureAwait(false);
        int fresh = 0;
        List<string> knownBefore = [];
        for (int i = 0; i < distinct.Length; i++)
        {
            if (seen[i] is not { } value)
            {
                fresh++;
            }
            else if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long at) || at < periodStart)
            {
                knownBefore.Add(distinct[i]);
            }
        }

        // A known recipient counts once per period, however often it is written to: sending again and again to one
        // old contact must not dilute a fan-out to strangers.
        string periodTag = "|" + period.ToString(CultureInfo.InvariantCulture);
        wait = StoreTimeBudget.Wait(budget, _store.Timeout);
        string?[] counted = await Task.WhenAll(knownBefore.Select(recipient => BoundedAsync(
            _recipients.GetOrAddAsync(RecipientKey(party + recipient + periodTag), "1", _options.Period), wait))).ConfigureAwait(false);
        int known = counted.Count(value => value is null);
        return (fresh, known);
    }

    private Task<string?> BoundedAsync(ValueTask<string?> call, TimeSpan timeout) => BoundedCall.WaitAsync(call, timeout, _timeProvider, CancellationToken.None);

    /// <summary>Adds the message's new and known recipients to the party's counts of the period, and reads both.</summary>
    private async Task<(long New, long Known)> CountAsync(string key, int fresh, int known, StoreTimeBudget? budget)
    {
        RateLimitRequest newCounter = new(key + ":n", _counter, fresh);
        RateLimitRequest knownCounter = new(key + ":k", _counter, known);
        RateLimitEntry[] entries = new RateLimitEntry[2];

        // Fail closed: during an outage nothing is counted and no one is flagged on a guess. A zero count cannot be
        // acquired, so it is read instead.
        RateLimitRequest[] requests = (fresh, known) switch
        {
            ( > 0, > 0) => [newCounter, knownCounter],
            ( > 0, _) => [newCounter],
            _ => [knownCounter],
        };
        RateLimitDecision decision = await _store.AcquireAsync(requests, entries.AsMemory(0, requests.Length), StoreFailureMode.FailClosed, budget, CancellationToken.None).ConfigureAwait(false);
        if (decision.Status != RateLimitStatus.Allowed)
        {
            return (0, 0);
        }

        if (requests.Length == 2)
        {
            return (entries[0].Count, entries[1].Count);
        }

        if (known > 0)
        {
            return (0, entries[0].Count);
        }

        RateLimitDecision peek = await _store.PeekAsync(new[] { knownCounter with { Cost = 0 } }, entries.AsMemory(1, 1), budget, CancellationToken.None).ConfigureAwait(false);
        return (entries[0].Count, peek.Status == RateLimitStatus.StoreUnavailable ? 0 : entries[1].Count);
    }

    /// <summary>A key-value key for one party and recipient: its <see cref="StoreKeyEncoding.Hash(string)"/>, so no address is stored.</summary>
    private static string RecipientKey(string partyAndRecipient) => KeyPrefix + StoreKeyEncoding.Hash(partyAndRecipient);

    [LoggerMessage(EventId = 2208, EventName = "FanOutFlagged", Level = LogLevel.Warning,
        Message = "The {PartyType} {PartyId} sent to {NewRecipients} new recipients and {KnownRecipients} known ones within {Period:c} and is flagged fan_out.")]
    private static partial void LogFlagged(ILogger logger, EmailGuardPartyType partyType, string partyId, long newRecipients, long knownRecipients, TimeSpan period);

    [LoggerMessage(EventId = 2209, EventName = "FanOutCountFailed", Level = LogLevel.Warning,
        Message = "Could not count the recipients of a message of the {PartyType} {PartyId} as new or known, or flag it.")]
    private static partial void LogFailed(ILogger logger, Exception exception, EmailGuardPartyType partyType, string partyId);
}
