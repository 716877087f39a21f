namespace EmailGuard.Dashboard;

/// <summary>
/// Deduplication and rate limiting per condition: the first alert of a condition passes, repeats within the period are
/// counted, and the count goes out with the next alert of the condition, or as a summary when the period ends.
/// <para>
/// Conditions name parties (a banned network, a flagged user), so whoever controls the parties controls how many there
/// are: a bot with many networks would page the operator once per network and fill the delivery queue, so that a later
/// store outage or suspension was dropped. At most <c>maxPerKind</c> (<see cref="EmailGuardAlertOptions.MaxConditionsPerKind"/>) new conditions of one kind and
/// severity pass per period; the further ones are counted under that kind's roll-up condition (<c>&lt;kind&gt;:*:&lt;severity&gt;</c>),
/// whose first alert goes out at once and whose count goes out as a summary. An alert with a
/// <see cref="EmailGuardAlert.BudgetScope"/> spends the budget of its scope within the kind and severity, and rolls up
/// under <c>&lt;kind&gt;:&lt;scope&gt;:*:&lt;severity&gt;</c>: a flood of banned networks leaves a tenant's breaker trip its own alert. Bounded: at most
/// <see cref="MaxConditions"/> conditions are tracked; beyond that, alerts of new conditions are refused.
/// </para>
/// <para>
/// An alert of a <see cref="EmailGuardAlert.NewIncident"/> (a party flagged again after its flag was cleared or expired,
/// a store outage or a ratio breaker's trip after a stable recovery, <see cref="AlertIncidents"/>)
/// passes even within its condition's period, and spends the budget as a new condition does: the incident is new, and
/// a breaker that flaps still cannot page more than the budget.
/// </para>
/// </summary>
internal sealed class AlertGate(TimeSpan period, int maxPerKind = EmailGuardAlertOptions.DefaultMaxConditionsPerKind)
{
    public const int MaxConditions = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Kind, EmailGuardAlertSeverity Severity, string? Scope), Budget> _budgets = [];

    /// <summary>The condition under which the alerts of a kind, severity and budget scope beyond their budget are counted.</summary>
    public static string RollUpCondition(string kind, EmailGuardAlertSeverity severity, string? scope = null)
        => scope is null ? $"{kind}:*:{Name(severity)}" : $"{kind}:{scope}:*:{Name(severity)}";

    /// <summary>
    /// Whether <paramref name="alert"/> goes out; when it does, <paramref name="passed"/> is the alert to send: itself,
    /// or its kind's roll-up alert when the kind used its budget of new conditions this period.
    /// </summary>
    public bool TryPass(EmailGuardAlert alert, DateTimeOffset now, out EmailGuardAlert passed, out int suppressed, out DateTimeOffset? suppressedSince)
    {
        lock (_lock)
        {
            passed = alert;
            if ((alert.NewIncident || !_states.ContainsKey(alert.Condition)) && !SpendBudget(alert, now))
            {
                passed = RollUp(alert);
            }

            if (_states.TryGetValue(passed.Condition, out State? state))
            {
                // A new incident of a condition goes out although its last one went out within the period: a tenant
                // suspended, cleared and suspended again is two incidents, and the second paged nobody.
                if (now - state.LastSent < period && !(ReferenceEquals(passed, alert) && alert.NewIncident))
                {
                    state.Suppressed++;
                    state.FirstSuppressed ??= now;
                    state.Last = passed;
                    suppressed = 0;
                    suppressedSince = null;
                    return false;
                }
            }
            else if (_states.Count >= MaxConditions)
            {
                Prune(now);
                if (_states.Count >= MaxConditions)
                {
                    suppressed = 0;
                    suppressedSince = null;
                    return false;
                }
            }

            suppressed = state?.Suppressed ?? 0;
            suppressedSince = state?.FirstSuppressed;
            _states[passed.Condition] = new State { LastSent = now, Last = passed };
            return true;
        }
    }

    /// <summary>Summaries of conditions whose period ended with suppressed repeats and no alert since.</summary>
    public IReadOnlyList<(EmailGuardAlert Last, int Suppressed, DateTimeOffset Since)> CollectDue(DateTimeOffset now)
    {
        List<(EmailGuardAlert, int, DateTimeOffset)>? due = null;
        lock (_lock)
        {
            foreach (State state in _states.Values)
            {
                if (state.Suppressed > 0 && now - state.LastSent >= period)
                {
                    (due ??= []).Add((state.Last, state.Suppressed, state.FirstSuppressed!.Value));
                    state.Suppressed = 0;
                    state.FirstSuppressed = null;
                    state.LastSent = now;
                }
            }

            Prune(now);
        }

        return due ?? [];
    }

    private static string Name(EmailGuardAlertSeverity severity) => severity.ToString().ToLowerInvariant();

    /// <summary>Takes one new condition from the budget of the alert's kind, severity and scope; false when none is left this period.</summary>
    private bool SpendBudget(EmailGuardAlert alert, DateTimeOffset now)
    {
        (string, EmailGuardAlertSeverity, string?) key = (alert.Kind, alert.Severity, alert.BudgetScope);
        if (!_budgets.TryGetValue(key, out Budget? budget) || now - budget.Since >= period)
        {
            _budgets[key] = budget = new Budget { Since = now };
        }

        if (budget.Passed >= maxPerKind)
        {
            return false;
        }

        budget.Passed++;
        return true;
    }

    private EmailGuardAlert RollUp(EmailGuardAlert alert)
    {
        Dictionary<string, string> details = alert.Details is null ? [] : new(alert.Details);
        details["rolledUpCondition"] = alert.Condition;
        AlertMessage title = alert.BudgetScope is { } scope
            ? AlertMessage.Of($"More than {maxPerKind} {alert.Kind} alerts ({scope}) within {period:g}; the latest: {alert.FormattedTitle}")
            : AlertMessage.Of($"More than {maxPerKind} {alert.Kind} alerts within {period:g}; the latest: {alert.FormattedTitle}");
        AlertMessage text = AlertMessage.Of(
            $"Further {alert.Kind} alerts of other parties are counted and summarized at the end of the period, so that they cannot crowd out other alerts. Open the dashboard's event log for all of them. {alert.FormattedText}");
        return EmailGuardAlert.Quoting(
            alert.Kind, RollUpCondition(alert.Kind, alert.Severity, alert.BudgetScope), alert.Severity, title, text, details, alert.Timestamp, alert.BudgetScope, dashboardPath: DashboardLinks.Events);
    }

    private void Prune(DateTimeOffset now)
    {
        // Removing the entry just enumerated is allowed: Remove does not invalidate a Dictionary's enumerator.
        foreach (KeyValuePair<string, State> pair in _states)
        {
            if (pair.Value.Suppressed == 0 && now - pair.Value.LastSent >= period)
            {
                _states.Remove(pair.Key);
            }
        }

        foreach (KeyValuePair<(string, EmailGuardAlertSeverity, string?), Budget> pair in _budgets)
        {
            if (now - pair.Value.Since >= period)
            {
                _budgets.Remove(pair.Key);
            }
        }
    }

    private sealed class State
    {
        public DateTimeOffset LastSent;
        public int Suppressed;
        public DateTimeOffset? FirstSuppressed;
        public EmailGuardAlert Last = null!;
    }

    private sealed class Budget
    {
        public DateTimeOffset Since;
        public int Passed;
    }
}
