namespace EmailGuard.Dashboard;

/// <summary>
/// The last hour of every instance that shares its activity: this instance's live record merged with the snapshots the
/// others published (<see cref="ActivityExchange"/>). Counts of a party, a minute, a reason or a policy are summed over
/// the instances; so are the error bounds of the top lists.
/// </summary>
internal sealed class ActivityView(RecentActivity local, IReadOnlyList<DashboardEvent> localEvents, IReadOnlyList<ActivitySnapshot> others, string? othersUnavailable)
{
    /// <summary>How many instances the view covers, this one included.</summary>
    public int InstanceCount => others.Count + 1;

    /// <summary>Why the other instances are missing, when the store did not answer; null otherwise.</summary>
    public string? OthersUnavailable => othersUnavailable;

    public IReadOnlyList<TopParty> Top(ActivityDimension dimension, bool denials, int take)
    {
        if (others.Count == 0)
        {
            return local.Top(dimension, denials, take);
        }

        Dictionary<string, (long Count, long Error)> merged = new(StringComparer.Ordinal);
        IEnumerable<TopParty> all = local.Top(dimension, denials, ActivitySnapshot.TopPerList)
            .Concat(others.SelectMany(o => o.Top.GetValueOrDefault((dimension, denials)) ?? []));
        foreach (TopParty party in all)
        {
            (long count, long error) = merged.GetValueOrDefault(party.Key);
            merged[party.Key] = (count + party.Count, error + party.Error);
        }

        return [.. merged.OrderByDescending(p => p.Value.Count).ThenBy(p => p.Key, StringComparer.Ordinal).Take(take).Select(p => new TopParty(p.Key, p.Value.Count, p.Value.Error))];
    }

    public IReadOnlyList<(DateTimeOffset Minute, long Denials, long Checks)> PerMinute()
    {
        IReadOnlyList<(DateTimeOffset Minute, long Denials, long Checks)> mine = local.PerMinute();
        if (others.Count == 0)
        {
            return mine;
        }

        Dictionary<DateTimeOffset, (long Denials, long Checks)> theirs = [];
        foreach ((DateTimeOffset minute, long denials, long checks) in others.SelectMany(o => o.Minutes))
        {
            (long d, long c) = theirs.GetValueOrDefault(minute);
            theirs[minute] = (d + denials, c + checks);
        }

        return [.. mine.Select(m => theirs.TryGetValue(m.Minute, out (long Denials, long Checks) t) ? (m.Minute, m.Denials + t.Denials, m.Checks + t.Checks) : m)];
    }

    public (long Checks, long Denials, IReadOnlyDictionary<string, long> Reasons) Totals()
    {
        (long checks, long denials, IReadOnlyDictionary<string, long> mine) = local.Totals();
        Dictionary<string, long> reasons = new(mine, StringComparer.Ordinal);
        foreach (ActivitySnapshot other in others)
        {
            checks += other.Checks;
            denials += other.Denials;
            foreach (KeyValuePair<string, long> reason in other.Reasons)
            {
                reasons[reason.Key] = reasons.GetValueOrDefault(reason.Key) + reason.Value;
            }
        }

        return (checks, denials, reasons);
    }

    public IReadOnlyList<(string Policy, long Allowed, long Denied, IReadOnlyDictionary<string, long> ByOutcome)> Policies()
    {
        Dictionary<string, (long Allowed, long Denied, Dictionary<string, long> ByOutcome)> merged = new(StringComparer.Ordinal);
        foreach ((string policy, long allowed, long denied, IReadOnlyDictionary<string, long> byOutcome) in local.Policies().Concat(others.SelectMany(o => o.Policies)))
        {
            if (!merged.TryGetValue(policy, out (long Allowed, long Denied, Dictionary<string, long> ByOutcome) sum))
            {
                sum = (0, 0, new Dictionary<string, long>(StringComparer.Ordinal));
            }

            foreach (KeyValuePair<string, long> outcome in byOutcome)
            {
                sum.ByOutcome[outcome.Key] = sum.ByOutcome.GetValueOrDefault(outcome.Key) + outcome.Value;
            }

            merged[policy] = (sum.Allowed + allowed, sum.Denied + denied, sum.ByOutcome);
        }

        return [.. merged.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value.Allowed, p.Value.Denied, (IReadOnlyDictionary<string, long>)p.Value.ByOutcome))];
    }

    /// <summary>This instance's events, then the others' latest, each with the instance it came from.</summary>
    public IEnumerable<(DashboardEvent Event, string Source)> Events()
        => localEvents.Select(e => (e, "this instance"))
            .Concat(others.SelectMany(o => o.Events.Select(e => (e, $"instance {o.InstanceId[..8]}"))));
}
