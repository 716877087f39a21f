using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>
/// An endpoint policy's defenses, compiled: the store keys and rule shapes of its bans (escalating, Allow2Ban, bounce)
/// and surge breaker. A ban is a marker: a sliding window of one permit, full for the ban's length.
/// </summary>
internal sealed class PolicyDefense
{
    /// <summary>At most this many ban lengths; a longer escalation stays at the last.</summary>
    private const int MaxBanLevels = 8;

    /// <summary>The largest <see cref="EmailGuardSurgeBreakerOptions.BaselineMultiple"/>: a surge a million times the usual minute.</summary>
    private const double MaxBaselineMultiple = 1_000_000;

    private PolicyDefense(
        string policy, EmailGuardEscalatingBanOptions? ban, EmailGuardAllow2BanOptions? allow2Ban, EmailGuardBounceBanOptions? bounceBan,
        EmailGuardSurgeBreakerOptions? surge, bool requireChallenge)
    {
        Policy = policy;
        RequireChallenge = requireChallenge;
        string scope = "eg:ep:d:" + StoreKeyEncoding.EncodeValue(policy);
        var markers = new List<(string, RateLimitRule)>();
        if (allow2Ban is not null)
        {
            Allow2Ban = allow2Ban;
            Allow2BanCountKeyPrefix = scope + ":a2b:count:";
            Allow2BanCountRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, allow2Ban.Within, Segments(allow2Ban.Within));
            Allow2BanMarker = (scope + ":a2b:ban:", RateLimitRule.SlidingWindow(1, allow2Ban.BanFor, Segments(allow2Ban.BanFor)));
            markers.Add(Allow2BanMarker);
        }

        if (bounceBan is not null)
        {
            BounceBan = bounceBan;
            BounceCountKeyPrefix = scope + ":fb:count:";
            BounceCountRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, bounceBan.Within, Segments(bounceBan.Within));
            BounceBanMarker = (scope + ":fb:ban:", RateLimitRule.SlidingWindow(1, bounceBan.BanFor, Segments(bounceBan.BanFor)));
            markers.Add(BounceBanMarker);
        }

        if (ban is not null)
        {
            Ban = ban;
            StrikeKeyPrefix = scope + ":strike:";
            RepeatKeyPrefix = scope + ":repeat:";
            BanKeyPrefix = scope + ":ban:";
            StrikeRule = RateLimitRule.SlidingWindow(ban.MaxDenials, ban.Within, Segments(ban.Within));
            RepeatRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, ban.RepeatMemory, Segments(ban.RepeatMemory));
            var lengths = new List<TimeSpan>();
            TimeSpan length = ban.BanFor;
            while (lengths.Count < MaxBanLevels)
            {
                lengths.Add(length);
                if (length >= ban.MaxBanFor || ban.EscalationFactor <= 1)
                {
                    break;
                }

                double next = Math.Min(length.TotalMilliseconds * ban.EscalationFactor, ban.MaxBanFor.TotalMilliseconds);
                length = TimeSpan.FromMilliseconds(Math.Ceiling(next / 1000) * 1000);
            }

            BanLengths = [.. lengths];
            BanRules = [.. lengths.Select(l => RateLimitRule.SlidingWindow(1, l, Segments(l)))];
            markers.AddRange(BanRules.Select(r => (BanKeyPrefix, r)));
        }

        BanMarkers = [.. markers];

        if (surge is not null)
        {
            Surge = surge;
            SurgeCountKey = scope + ":surge:count";
            SurgeTripKey = scope + ":surge:trip";
            SurgeCountRule = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, TimeSpan.FromMinutes(1));
            SurgeTripRule = RateLimitRule.SlidingWindow(1, surge.TripFor, Segments(surge.TripFor));
        }
    }

    public string Policy { get; }

    public bool RequireChallenge { get; }

    public EmailGuardEscalatingBanOptions? Ban { get; }

    public string StrikeKeyPrefix { get; } = "";

    public string RepeatKeyPrefix { get; } = "";

    public string BanKeyPrefix { get; } = "";

    public RateLimitRule? StrikeRule { get; }

    public RateLimitRule? RepeatRule { get; }

    /// <summary>The ban lengths, first ban first; a marker per length, so one peek tells whether any ban is running.</summary>
    public TimeSpan[] BanLengths { get; } = [];

    public RateLimitRule[] BanRules { get; } = [];

    /// <summary>Every ban marker of the policy (key prefix and rule): Allow2Ban, bounce ban, each escalating ban length; one peek reads them all.</summary>
    public (string KeyPrefix, RateLimitRule Rule)[] BanMarkers { get; } = [];

    public EmailGuardAllow2BanOptions? Allow2Ban { get; }

    public string Allow2BanCountKeyPrefix { get; } = "";

    public RateLimitRule? Allow2BanCountRule { get; }

    public (string KeyPrefix, RateLimitRule Rule) Allow2BanMarker { get; }

    public EmailGuardBounceBanOptions? BounceBan { get; }

    public string BounceCountKeyPrefix { get; } = "";

    public RateLimitRule? BounceCountRule { get; }

    public (string KeyPrefix, RateLimitRule Rule) BounceBanMarker { get; }

    public EmailGuardSurgeBreakerOptions? Surge { get; }

    public string SurgeCountKey { get; } = "";

    public string SurgeTripKey { get; } = "";

    public RateLimitRule? SurgeCountRule { get; }

    public RateLimitRule? SurgeTripRule { get; }

    /// <summary>Merges the builder's choice with configuration (which wins for each setting it sets); null when the policy has no defenses.</summary>
    public static PolicyDefense? Create(string policy, EmailGuardPolicyDefenseOptions fromCode, EmailGuardPolicyDefenseOptions? fromConfiguration, bool hasClientIpPartition, List<string> errors)
    {
        // Setting by setting: what configuration leaves out keeps the code's value, not the default.
        EmailGuardEscalatingBanOptions? ban = fromConfiguration?.EscalatingBan?.Over(fromCode.EscalatingBan) ?? fromCode.EscalatingBan;
        EmailGuardSurgeBreakerOptions? surge = fromConfiguration?.SurgeBreaker?.Over(fromCode.SurgeBreaker) ?? fromCode.SurgeBreaker;
        EmailGuardAllow2BanOptions? allow2Ban = fromConfiguration?.Allow2Ban?.Over(fromCode.Allow2Ban) ?? fromCode.Allow2Ban;
        EmailGuardBounceBanOptions? bounceBan = fromConfiguration?.BounceBan?.Over(fromCode.BounceBan) ?? fromCode.BounceBan;
        bool requireChallenge = fromConfiguration?.RequireChallenge ?? fromCode.RequireChallenge ?? false;
        if (ban is null && allow2Ban is null && bounceBan is null && surge is null && !requireChallenge)
        {
            return null;
        }

        string path = $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PolicyDefenses:{policy}";
        int before = errors.Count;
        if (ban is not null)
        {
            string at = path + ":EscalatingBan";
            if (!hasClientIpPartition)
            {
                errors.Add($"{at}: the policy '{policy}' bans client networks, so it needs a PerClientIp partition.");
            }

            if (ban.MaxDenials < 1)
            {
                errors.Add(Format($"{at}:MaxDenials must be at least 1; it is {ban.MaxDenials}."));
            }

            CheckSpan(errors, at + ":Within", ban.Within);
            CheckSpan(errors, at + ":BanFor", ban.BanFor);
            CheckSpan(errors, at + ":MaxBanFor", ban.MaxBanFor);
            CheckSpan(errors, at + ":RepeatMemory", ban.RepeatMemory);
            if (ban.MaxBanFor < ban.BanFor)
            {
                errors.Add(Format($"{at}:MaxBanFor must not be shorter than {at}:BanFor ({ban.BanFor}); it is {ban.MaxBanFor}."));
            }

            if (!(ban.EscalationFactor >= 1 && ban.EscalationFactor <= 100))
            {
                errors.Add(Format($"{at}:EscalationFactor must be from 1 to 100; it is {ban.EscalationFactor}."));
            }
        }

        if (allow2Ban is not null)
        {
            CheckNetworkBan(errors, path + ":Allow2Ban", policy, hasClientIpPartition, "MaxRequests", allow2Ban.MaxRequests, allow2Ban.Within, allow2Ban.BanFor);
        }

        if (bounceBan is not null)
        {
            CheckNetworkBan(errors, path + ":BounceBan", policy, hasClientIpPartition, "Bounces", bounceBan.Bounces, bounceBan.Within, bounceBan.BanFor);
        }

        if (surge is not null)
        {
            string at = path + ":SurgeBreaker";
            if (surge.ThresholdPerMinute <= 0 && !(surge.BaselineMultiple > 0))
            {
                errors.Add($"{at}: set ThresholdPerMinute, BaselineMultiple or both.");
            }

            if (surge.ThresholdPerMinute < 0 || surge.ThresholdPerMinute > RateLimitRule.MaxLimit)
            {
                errors.Add(Format($"{at}:ThresholdPerMinute must be from 0 to {RateLimitRule.MaxLimit}; it is {surge.ThresholdPerMinute}."));
            }

            // Finite: an infinite multiple (Infinity, 1e300) raises the threshold to the store's ceiling and turns the breaker off without a word.
            if (!(surge.BaselineMultiple == 0 || (surge.BaselineMultiple >= 1 && surge.BaselineMultiple <= MaxBaselineMultiple)))
            {
                errors.Add(Format($"{at}:BaselineMultiple must be 0 (none) or from 1 to {MaxBaselineMultiple}; it is {surge.BaselineMultiple}."));
            }

            if (surge.BaselineFloorPerMinute < 1)
            {
                errors.Add(Format($"{at}:BaselineFloorPerMinute must be at least 1; it is {surge.BaselineFloorPerMinute}."));
            }

            if (!(surge.BaselineSmoothing > 0 && surge.BaselineSmoothing <= 1))
            {
                errors.Add(Format($"{at}:BaselineSmoothing must be above 0 and at most 1; it is {surge.BaselineSmoothing}."));
            }

            CheckSpan(errors, at + ":TripFor", surge.TripFor);
            if (!Enum.IsDefined(surge.Action))
            {
                errors.Add(Format($"{at}:Action must be Deny or Challenge; it is {surge.Action}."));
            }
        }

        return errors.Count > before ? null : new PolicyDefense(policy, ban, allow2Ban, bounceBan, surge, requireChallenge);
    }

    private static string Format(FormattableString message) => message.ToString(CultureInfo.InvariantCulture);

    /// <summary>Checks a ban of client networks that counts <paramref name="countName"/> within a period.</summary>
    private static void CheckNetworkBan(
        List<string> errors, string at, string policy, bool hasClientIpPartition, string countName, int count, TimeSpan within, TimeSpan banFor)
    {
        if (!hasClientIpPartition)
        {
            errors.Add($"{at}: the policy '{policy}' bans client networks, so it needs a PerClientIp partition.");
        }

        if (count < 1)
        {
            errors.Add(Format($"{at}:{countName} must be at least 1; it is {count}."));
        }

        CheckSpan(errors, at + ":Within", within);
        CheckSpan(errors, at + ":BanFor", banFor);
    }

    private static void CheckSpan(List<string> errors, string path, TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1) || value > RateLimitRule.MaxWindow || value.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            errors.Add(Format($"{path} must be from 1 second to {RateLimitRule.MaxWindow.TotalDays} days, in whole milliseconds; it is {value}."));
        }
    }

    /// <summary>Fine segments, so a ban or a trip ends within about a hundredth of its length of when it should.</summary>
    private static int Segments(TimeSpan window)
    {
        long ms = (long)window.TotalMilliseconds;
        for (int segments = 100; segments > 1; segments--)
        {
            if (ms % segments == 0)
            {
                return segments;
            }
        }

        return 1;
    }
}
