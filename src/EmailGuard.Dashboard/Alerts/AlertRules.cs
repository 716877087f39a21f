using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Turns what the monitor hears into alerts: spikes of limit denials per dimension, global caps near their limit,
/// flags and suspensions, breaker trips (ratio breakers, endpoint bans, surge breakers), store outages and recoveries. A spike is raised each time a dimension's denials in the current
/// <see cref="EmailGuardAlertOptions.SpikeWindow"/>, counted over all the instances in the store (<see cref="SpikeCounter"/>),
/// reach another multiple of the threshold; the gate lets one per period through and counts the rest. A store outage or a ratio breaker's trip after a stable recovery is a new
/// incident (<see cref="AlertIncidents"/>), which pages again within the period.
/// </summary>
internal sealed class AlertRules : IEmailGuardObserver
{
    private const string StoreIncident = "store";

    private readonly IEmailGuardAlerts _alerts;
    private readonly TimeProvider _timeProvider;
    private readonly EmailGuardAlertOptions _options;
    private readonly SpikeCounter _spikes;
    private readonly AlertIncidents _storeIncidents;

    // Apart from the store's: a bot can get thousands of networks banned, and their incidents must not crowd out the
    // store's when the memory is full.
    private readonly AlertIncidents _breakerIncidents;

    public AlertRules(
        IEmailGuardAlerts alerts, IOptions<EmailGuardAlertOptions> options, IResilientRateLimitStore store, TimeProvider timeProvider, ILogger<SpikeCounter> logger)
    {
        _alerts = alerts;
        _timeProvider = timeProvider;
        _options = options.Value;
        _spikes = new SpikeCounter(store, _options.SpikeThreshold, _options.SpikeWindow, timeProvider, logger, RaiseSpike);
        _storeIncidents = new(_options.Period);
        _breakerIncidents = new(_options.Period);
    }

    public void OnLimitExceeded(EmailGuardLimitArguments limitEvent) => _spikes.Add(limitEvent);

    private void RaiseSpike(EmailGuardLimitArguments limitEvent, long count)
    {
        EmailGuardDimension dimension = limitEvent.Usage.Dimension;
        AlertMessage title = AlertMessage.Of($"{count} messages denied by {dimension} limits within {_options.SpikeWindow:g}");
        AlertMessage text = AlertMessage.Of(
            $"The latest was {Party(limitEvent)} ({limitEvent.Usage.Rule}). Open the dashboard's overview for the top parties by denials; block or flag the abuser if one party dominates.");
        _alerts.Raise(EmailGuardAlert.Quoting(
            EmailGuardAlertKinds.LimitExceededSpike,
            $"{EmailGuardAlertKinds.LimitExceededSpike}:{dimension}",
            EmailGuardAlertSeverity.Warning,
            title,
            text,
            new Dictionary<string, string>
            {
                ["dimension"] = dimension.ToString(),
                ["count"] = count.ToString(CultureInfo.InvariantCulture),
                ["window"] = _options.SpikeWindow.ToString("c", CultureInfo.InvariantCulture),
            },
            oncePerFleet: true));
    }

    public void OnNearLimit(EmailGuardLimitArguments limitEvent)
    {
        EmailSendRuleUsage usage = limitEvent.Usage;
        if (usage.Dimension != EmailGuardDimension.Global)
        {
            return;
        }

        _alerts.Raise(new EmailGuardAlert
        {
            Kind = EmailGuardAlertKinds.NearGlobalLimit,
            Condition = string.Create(CultureInfo.InvariantCulture, $"{EmailGuardAlertKinds.NearGlobalLimit}:{usage.Rule.Limit}/{usage.Rule.Window}"),
            Severity = EmailGuardAlertSeverity.Warning,
            Title = string.Create(CultureInfo.InvariantCulture, $"Global cap near its limit: {usage.Count} of {usage.Limit} per {usage.Rule.Window:g}"),
            Text = string.Create(CultureInfo.InvariantCulture, $"All mail stops being accepted when it is reached; it resets at {usage.ResetAt:u}. Check the top tenants and senders by usage for a runaway party."),
            Details = new Dictionary<string, string>
            {
                ["count"] = usage.Count.ToString(CultureInfo.InvariantCulture),
                ["limit"] = usage.Limit.ToString(CultureInfo.InvariantCulture),
                ["window"] = usage.Rule.Window.ToString("c", CultureInfo.InvariantCulture),
            },
        });
    }

    public void OnFlagged(EmailGuardFlag flag, EmailGuardFlag? replaced)
    {
        // A ratio breaker's trip pages once, as breaker_tripped, which says what tripped, on what rates, and the flag it
        // set (BreakerFlag); the flag's event stays in the dashboard's event log. Both paged, on-call got two pages for
        // one trip, and four for a mail's tenant and user.
        if (string.Equals(flag.CreatedBy, EmailRatioBreakerOptions.FlaggedBy, StringComparison.Ordinal))
        {
            return;
        }

        string kind = flag.Suspend ? EmailGuardAlertKinds.Suspended : EmailGuardAlertKinds.Flagged;
        AlertMessage title = flag.Suspend
            ? AlertMessage.Of($"{flag.PartyType} {flag.PartyId} suspended: {flag.Reason}")
            : AlertMessage.Of($"{flag.PartyType} {flag.PartyId} flagged: {flag.Reason}");
        AlertMessage text = flag.CreatedBy is null
            ? AlertMessage.Of($"Until {flag.ExpiresAt:u}. Review the party on the dashboard's flags page; clear the flag if it is a false alarm.")
            : AlertMessage.Of($"Until {flag.ExpiresAt:u}, by {flag.CreatedBy}. Review the party on the dashboard's flags page; clear the flag if it is a false alarm.");
        _alerts.Raise(EmailGuardAlert.Quoting(
            kind,
            $"{kind}:{flag.PartyType}:{flag.PartyId}:{flag.Reason}",
            flag.Suspend ? EmailGuardAlertSeverity.Critical : EmailGuardAlertSeverity.Warning,
            title,
            text,
            new Dictionary<string, string>
            {
                ["partyType"] = flag.PartyType.ToString(),
                ["partyId"] = flag.PartyId,
                ["reason"] = flag.Reason,
                ["expiresAt"] = flag.ExpiresAt.ToString("O", CultureInfo.InvariantCulture),
            },
            newIncident: replaced is null || replaced.Suspend != flag.Suspend,
            dashboardPath: DashboardLinks.Flags(flag.PartyType, flag.PartyId)));
    }

    public void OnStoreOutage(string errorType)
    {
        // An outage after the store answered for a while is a new incident: the operator fixed the last one, and a
        // deduplicated page would tell no one that it is down again.
        bool newIncident = _storeIncidents.Started(StoreIncident, _timeProvider.GetUtcNow());
        AlertMessage text = AlertMessage.Of(
            $"Error: {errorType}. Each policy follows its failure mode (fail open, fail closed or local fallback) until the store answers again. Check Redis (see the runbook).");
        _alerts.Raise(EmailGuardAlert.Quoting(
            EmailGuardAlertKinds.StoreOutage,
            EmailGuardAlertKinds.StoreOutage,
            EmailGuardAlertSeverity.Critical,
            AlertMessage.Verbatim("The EmailGuard store stopped answering"),
            text,
            new Dictionary<string, string> { ["errorType"] = errorType },
            newIncident: newIncident));
    }

    public void OnStoreRecovered(TimeSpan downFor)
    {
        bool endsNewIncident = _storeIncidents.Ended(StoreIncident, _timeProvider.GetUtcNow());
        _alerts.Raise(new EmailGuardAlert
        {
            Kind = EmailGuardAlertKinds.StoreRecovered,
            Condition = EmailGuardAlertKinds.StoreRecovered,
            Severity = EmailGuardAlertSeverity.Info,
            Title = string.Create(CultureInfo.InvariantCulture, $"The EmailGuard store answers again after {downFor:g}"),
            Text = "Counters are shared again across instances.",
            Details = new Dictionary<string, string> { ["downForSeconds"] = ((long)downFor.TotalSeconds).ToString(CultureInfo.InvariantCulture) },

            // The end of an outage that paged as a new incident pages too, so the operator hears that it is over.
            NewIncident = endsNewIncident,
        });
    }

    public void OnBreakerTripped(DashboardEvent tripped, string scope, BreakerIncident? incident, BreakerFlag? flag = null)
    {
        // A ratio or surge breaker that trips again after it had recovered (or its trip had ended) for a while is a new
        // incident, by the store outages' rule: the same condition a second time in the period would otherwise page no one.
        bool newIncident = incident is { } trip && _breakerIncidents.Started(trip.Key, _timeProvider.GetUtcNow(), trip.EndsAt);
        AlertMessage title = tripped.TitleMessage ?? AlertMessage.Verbatim(AlertText.OneLine(tripped.Title));
        AlertMessage detail = tripped.DetailMessage ?? AlertMessage.Verbatim(AlertText.OneLine(tripped.Detail));
        Dictionary<string, string> details = new(StringComparer.Ordinal) { ["event"] = tripped.Kind, ["scope"] = scope };
        AlertMessage text;
        if (flag is { } set)
        {
            // The trip's one page (its flag's alert is not sent): it names the flag, and a suspension is as critical as
            // an operator's.
            AlertMessage what = AlertMessage.Verbatim(set.Suspend ? "suspended" : "reduced limits");
            text = AlertMessage.Of(
                $"{detail}. It flagged {set.PartyType} {set.PartyId} {set.Reason} ({what}): review the party on the dashboard's flags page and clear the flag if it is a false alarm; the runbook says what to do.");
            details["partyType"] = set.PartyType.ToString();
            details["partyId"] = set.PartyId;
            details["reason"] = set.Reason;
            details["expiresAt"] = set.ExpiresAt.ToString("O", CultureInfo.InvariantCulture);
        }
        else
        {
            text = AlertMessage.Of($"{detail}. See the dashboard's event log and lists; the runbook says what to do.");
        }

        _alerts.Raise(EmailGuardAlert.Quoting(
            EmailGuardAlertKinds.BreakerTripped,
            Condition(tripped),
            flag is { Suspend: true } ? EmailGuardAlertSeverity.Critical : EmailGuardAlertSeverity.Warning,
            title,
            text,
            details,
            budgetScope: scope,
            newIncident: newIncident,
            dashboardPath: flag is { } party ? DashboardLinks.Flags(party.PartyType, party.PartyId) : DashboardLinks.Events));
    }

    /// <summary>
    /// The condition of a breaker's trip: <c>breaker_tripped:&lt;title&gt;</c> for a ratio breaker (its event's kind is the
    /// alert's), <c>breaker_tripped:&lt;event kind&gt;:&lt;title&gt;</c> for the endpoints' bans and surge breakers.
    /// </summary>
    internal static string Condition(DashboardEvent tripped)
        => string.Equals(tripped.Kind, EmailGuardAlertKinds.BreakerTripped, StringComparison.Ordinal)
            ? $"{EmailGuardAlertKinds.BreakerTripped}:{tripped.Title}"
            : $"{EmailGuardAlertKinds.BreakerTripped}:{tripped.Kind}:{tripped.Title}";

    public void OnBreakerRecovered(string key, DateTimeOffset at) => _breakerIncidents.Ended(key, at);

    private static AlertMessage Party(EmailGuardLimitArguments limitEvent)
        => limitEvent.Usage.Dimension == EmailGuardDimension.Global
            ? AlertMessage.Verbatim("the global scope")
            : AlertMessage.Of($"{TenantPoolText.Dimension(limitEvent.Usage.Dimension, limitEvent.Usage.Partition)} {TenantPoolText.Party(limitEvent.Usage.Dimension, limitEvent.Usage.Partition)}");
}
