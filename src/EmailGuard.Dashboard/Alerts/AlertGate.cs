namespace EmailGuard.Dashboard;

/// <summary>
/// Deduplication and rate limiting per condition: the first alert of a condition passes, repeats within the period are
/// counted, and the count goes out with the next alert of the condition, or as a summary when the period ends. Bounded:
/// at most <see cref="MaxConditions"/> conditions are tracked; beyond that, alerts of new conditions are refused.
/// </summary>
internal sealed class AlertGate(TimeSpan period)
{
    public const int MaxConditions = 10_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    public bool TryPass(EmailGuardAlert alert, DateTimeOffset now, out int suppressed, out DateTimeOffset? suppressedSince)
    {
        lock (_lock)
        {
            if (_states.TryGetValue(alert.Condition, out State? state))
            {
                if (now - state.LastSent < period)
                {
                    state.Suppressed++;
                    state.FirstSuppressed ??= now;
                    state.Last = alert;
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
            _states[alert.Condition] = new State { LastSent = now, Last = alert };
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

    private void Prune(DateTimeOffset now)
    {
        List<string>? stale = null;
        foreach (KeyValuePair<string, State> pair in _states)
        {
            if (pair.Value.Suppressed == 0 && now - pair.Value.LastSent >= period)
            {
                (stale ??= []).Add(pair.Key);
            }
        }

        stale?.ForEach(key => _states.Remove(key));
    }

    private sealed class State
    {
        public DateTimeOffset LastSent;
        public int Suppressed;
        public DateTimeOffset? FirstSuppressed;
        public EmailGuardAlert Last = null!;
    }
}
