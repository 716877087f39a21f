namespace EmailGuard.Dashboard;

/// <summary>
/// When a condition that comes and goes (a store outage, a ratio breaker's trip) starts a new incident: when it had
/// ended at least <see cref="StableRecovery"/> before. Such an alert pages again within the alert period
/// (<see cref="EmailGuardAlert.NewIncident"/>); a condition that comes back sooner is the same incident flapping, and is
/// counted for the period's summary. One rule for every such condition, so the store and the breakers cannot drift apart.
/// </summary>
/// <remarks>
/// Bounded: at most <see cref="MaxTracked"/> conditions are remembered (a bot can get as many networks banned as it
/// has); beyond that an ended condition nobody needs any more is forgotten, and a new one is not remembered, so its next
/// start is the same incident: it is counted rather than paged, never the other way round.
/// </remarks>
internal sealed class AlertIncidents(TimeSpan period)
{
    /// <summary>
    /// How long a condition must have been over for its next start to be a new incident, which pages again within the
    /// alert period (and spends the kind's budget); a condition that flaps faster is counted in the period's summary
    /// instead of paging at every flap.
    /// </summary>
    public static readonly TimeSpan StableRecovery = TimeSpan.FromMinutes(5);

    public const int MaxTracked = AlertGate.MaxConditions;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Incident> _incidents = new(StringComparer.Ordinal);

    /// <summary>
    /// The condition <paramref name="key"/> started (again) at <paramref name="now"/>: whether that is a new incident,
    /// because its last one ended at least <see cref="StableRecovery"/> ago. <paramref name="endsAt"/> is when this one
    /// ends when that is known at its start (a breaker's trip: its half-open phase or its ban expires), null until
    /// <see cref="Ended"/> says so (a store outage).
    /// </summary>
    public bool Started(string key, DateTimeOffset now, DateTimeOffset? endsAt = null)
    {
        lock (_lock)
        {
            bool known = _incidents.TryGetValue(key, out Incident? incident);
            bool newIncident = known && incident!.EndedAt is { } ended && now - ended >= StableRecovery;
            if (!known)
            {
                if (_incidents.Count >= MaxTracked)
                {
                    Prune(now);
                    if (_incidents.Count >= MaxTracked)
                    {
                        return false;
                    }
                }

                _incidents[key] = incident = new Incident();
            }

            // A start within the incident (the breaker tripping again while tripped or half-open) never moves its end earlier.
            bool endsLater = !newIncident && endsAt is { } end && incident!.EndedAt is { } previous && previous > end;
            if (!endsLater)
            {
                incident!.EndedAt = endsAt;
            }

            incident!.StartedAsNew = newIncident;
            return newIncident;
        }
    }

    /// <summary>
    /// The condition <paramref name="key"/> ended at <paramref name="at"/> (the store answers again, a breaker
    /// recovered); returns whether the incident it ends started as a new one, so that its end pages too.
    /// </summary>
    public bool Ended(string key, DateTimeOffset at)
    {
        lock (_lock)
        {
            if (!_incidents.TryGetValue(key, out Incident? incident))
            {
                if (_incidents.Count >= MaxTracked)
                {
                    Prune(at);
                    if (_incidents.Count >= MaxTracked)
                    {
                        return false;
                    }
                }

                // Ended here, started elsewhere: a recovery is decided by one instance, whichever tripped the breaker.
                _incidents[key] = incident = new Incident();
            }

            incident.EndedAt = at;
            return incident.StartedAsNew;
        }
    }

    /// <summary>
    /// Forgets the conditions that ended more than the period (and <see cref="StableRecovery"/>) ago: the gate has
    /// forgotten their last alert too, so their next start pages as a new condition anyway.
    /// </summary>
    private void Prune(DateTimeOffset now)
    {
        TimeSpan keep = period > StableRecovery ? period : StableRecovery;
        foreach (KeyValuePair<string, Incident> pair in _incidents)
        {
            if (pair.Value.EndedAt is { } ended && now - ended >= keep)
            {
                _incidents.Remove(pair.Key);
            }
        }
    }

    private sealed class Incident
    {
        public DateTimeOffset? EndedAt;
        public bool StartedAsNew;
    }
}
