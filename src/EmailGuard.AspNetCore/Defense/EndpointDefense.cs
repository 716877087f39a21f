using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Escalating bans, Allow2Ban, bounce bans, the surge breaker and challenge mode of endpoint policies. Every shared
/// fact is a counter in the rate-limit store: denials per client network (strikes), bans per client network (repeats),
/// requests and bounces per client network, a ban marker per ban length and kind (a sliding window of one permit, full
/// for the ban's length), the policy's total per minute and the breaker's trip marker. A store that cannot answer leaves the defenses out (the limits keep their own failure mode).
/// </summary>
internal sealed partial class EndpointDefense
{
    private readonly IResilientRateLimitStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EndpointMetrics _metrics;
    private readonly ConcurrentDictionary<string, SurgeState> _surges = new(StringComparer.Ordinal);

    public EndpointDefense(IResilientRateLimitStore store, TimeProvider time, ILogger logger, EndpointMetrics metrics)
    {
        _store = store;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>
    /// Decides whether the request may be counted against the policy's limits. <paramref name="ipPartition"/> is the
    /// client network as the policy counts it; empty when unknown.
    /// </summary>
    public async ValueTask<DefenseVerdict> CheckAsync(HttpContext context, EndpointGuardState state, PolicyDefense defense, string ipPartition)
    {
        CancellationToken aborted = context.RequestAborted;
        int bans = ipPartition.Length > 0 ? defense.BanMarkers.Length : 0;
        bool surge = defense.Surge is not null;
        bool tripped = false;
        TimeSpan tripLeft = TimeSpan.Zero;
        if (bans + (surge ? 1 : 0) > 0)
        {
            var requests = new RateLimitRequest[bans + (surge ? 1 : 0)];
            for (int i = 0; i < bans; i++)
            {
                requests[i] = new RateLimitRequest(defense.BanMarkers[i].KeyPrefix + ipPartition, defense.BanMarkers[i].Rule, 0);
            }

            if (surge)
            {
                requests[^1] = new RateLimitRequest(defense.SurgeTripKey, defense.SurgeTripRule!, 0);
            }

            var entries = new RateLimitEntry[requests.Length];
            RateLimitDecision peek = await _store.PeekAsync(requests, entries, aborted).ConfigureAwait(false);
            if (peek.Status != RateLimitStatus.StoreUnavailable)
            {
                for (int i = 0; i < bans; i++)
                {
                    if (entries[i].Count > 0)
                    {
                        TimeSpan left = await RemainingAsync(requests[i], aborted).ConfigureAwait(false);
                        if (left > TimeSpan.Zero)
                        {
                            string shownPartition = LogValue.Of(ipPartition);
                            Log.BanRejected(_logger, defense.Policy, shownPartition);
                            return new DefenseVerdict(DefenseOutcome.Banned, left);
                        }
                    }
                }

                if (surge && entries[^1].Count > 0)
                {
                    tripLeft = await RemainingAsync(requests[^1], aborted).ConfigureAwait(false);
                    tripped = tripLeft > TimeSpan.Zero;
                }
            }
        }

        if (defense.Allow2Ban is not null && ipPartition.Length > 0 && await CountAllow2BanAsync(state, defense, ipPartition, aborted).ConfigureAwait(false))
        {
            string shownPartition = LogValue.Of(ipPartition);
            Log.BanRejected(_logger, defense.Policy, shownPartition);
            return new DefenseVerdict(DefenseOutcome.Banned, defense.Allow2Ban.BanFor);
        }

        if (surge)
        {
            (tripped, tripLeft) = await CountSurgeAsync(state, defense, tripped, tripLeft, aborted).ConfigureAwait(false);
        }

        if (tripped && defense.Surge!.Action == EmailGuardSurgeAction.Deny)
        {
            return new DefenseVerdict(DefenseOutcome.SurgeDenied, tripLeft);
        }

        if ((tripped || defense.RequireChallenge) && context.Features.Get<IEmailGuardChallengeFeature>() is not { Passed: true })
        {
            Log.ChallengeRequired(_logger, defense.Policy, tripped ? "because its surge breaker is tripped" : "because the policy requires one");
            return new DefenseVerdict(DefenseOutcome.ChallengeRequired, tripLeft);
        }

        return DefenseVerdict.Proceed;
    }

    /// <summary>Counts a denial by the policy's limits against the client network, and bans it when it has too many.</summary>
    public async ValueTask OnLimitedAsync(HttpContext context, EndpointGuardState state, PolicyDefense defense, string ipPartition)
    {
        if (defense.Ban is not { } ban || ipPartition.Length == 0)
        {
            return;
        }

        // Not on the request's abort token: a denial is a strike whether or not the client stays for its answer, or a
        // bot that hangs up once its request is decided would never be banned. The store calls are bounded by the
        // store's own timeout.
        CancellationToken notAborted = CancellationToken.None;
        string client = ipPartition;
        var strike = new RateLimitEntry[1];
        RateLimitDecision struck = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.StrikeKeyPrefix + client, defense.StrikeRule!) }, strike, StoreFailureMode.FailOpen, notAborted).ConfigureAwait(false);
        bool enough = struck.Status == RateLimitStatus.LimitExceeded
            || (struck.Status == RateLimitStatus.Allowed && strike[0].Count >= ban.MaxDenials);
        if (!enough)
        {
            return;
        }

        var repeat = new RateLimitEntry[1];
        RateLimitDecision repeated = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.RepeatKeyPrefix + client, defense.RepeatRule!) }, repeat, StoreFailureMode.FailOpen, notAborted).ConfigureAwait(false);
        int count = repeated.Status == RateLimitStatus.Allowed ? (int)Math.Min(int.MaxValue, repeat[0].Count) : 1;
        int level = Math.Min(count, defense.BanRules.Length) - 1;
        RateLimitDecision banned = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.BanKeyPrefix + client, defense.BanRules[level]) }, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailOpen, notAborted).ConfigureAwait(false);
        if (banned.Status != RateLimitStatus.Allowed)
        {
            return;
        }

        TimeSpan length = defense.BanLengths[level];
        Log.BanStarted(_logger, defense.Policy, LogValue.Of(client), length, count);
        _metrics.BanStarted(defense.Policy, count);
        if (state.Options.OnBanStarted is { } onBanStarted)
        {
            await RaiseAsync(onBanStarted, new EmailGuardBanStartedArguments(defense.Policy, client, length, count, _time.GetUtcNow()), "BanStarted").ConfigureAwait(false);
        }
    }

    /// <summary>How long the marker stays full: what an acquire of one permit would be told to wait.</summary>
    private async ValueTask<TimeSpan> RemainingAsync(RateLimitRequest marker, CancellationToken aborted)
    {
        RateLimitDecision decision = await _store.PeekAsync(new[] { marker with { Cost = 1 } }, Memory<RateLimitEntry>.Empty, aborted).ConfigureAwait(false);
        return decision.Status == RateLimitStatus.LimitExceeded ? decision.RetryAfter : TimeSpan.Zero;
    }

    private async ValueTask<(bool Tripped, TimeSpan Left)> CountSurgeAsync(
        EndpointGuardState state, PolicyDefense defense, bool tripped, TimeSpan tripLeft, CancellationToken aborted)
    {
        EmailGuardSurgeBreakerOptions options = defense.Surge!;
        var counted = new RateLimitEntry[1];
        RateLimitDecision decision = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.SurgeCountKey, defense.SurgeCountRule!) }, counted, StoreFailureMode.FailOpen, aborted).ConfigureAwait(false);
        if (decision.Status != RateLimitStatus.Allowed)
        {
            return (tripped, tripLeft);
        }

        long total = counted[0].Count;
        SurgeState surge = _surges.GetOrAdd(defense.Policy, _ => new SurgeState());
        long minute = decision.Timestamp.ToUnixTimeMilliseconds() / 60_000;
        bool recovered;
        long threshold;
        lock (surge)
        {
            threshold = surge.Observe(minute, total, options);
            recovered = !tripped && surge.TrippedHere;
            if (recovered)
            {
                surge.TrippedHere = false;
            }
        }

        DateTimeOffset now = decision.Timestamp;
        if (recovered)
        {
            Log.SurgeRecovered(_logger, defense.Policy, total, threshold);
            _metrics.SurgeBreaker(defense.Policy, "recovered");
            if (state.Options.OnSurgeBreakerRecovered is { } onRecovered)
            {
                await RaiseAsync(onRecovered, new EmailGuardSurgeBreakerArguments(defense.Policy, total, threshold, now), "SurgeBreakerRecovered").ConfigureAwait(false);
            }
        }

        if (tripped || total <= threshold)
        {
            return (tripped, tripLeft);
        }

        RateLimitDecision trip = await _store.AcquireAsync(
            new[] { new RateLimitRequest(defense.SurgeTripKey, defense.SurgeTripRule!) }, Memory<RateLimitEntry>.Empty, StoreFailureMode.FailOpen, aborted).ConfigureAwait(false);
        if (trip.Status == RateLimitStatus.LimitExceeded)
        {
            // Another instance tripped it a moment ago.
            return (true, trip.RetryAfter);
        }

        if (trip.Status != RateLimitStatus.Allowed)
        {
            return (false, TimeSpan.Zero);
        }

        lock (surge)
        {
            surge.TrippedHere = true;
        }

        Log.SurgeTripped(_logger, defense.Policy, total, threshold, options.TripFor);
        _metrics.SurgeBreaker(defense.Policy, "tripped");
        if (state.Options.OnSurgeBreakerTripped is { } onTripped)
        {
            await RaiseAsync(onTripped, new EmailGuardSurgeBreakerArguments(defense.Policy, total, threshold, now), "SurgeBreakerTripped").ConfigureAwait(false);
        }

        return (true, options.TripFor);
    }

    /// <summary>An app's callback never fails the request that raised it.</summary>
    private async ValueTask RaiseAsync<TArgs>(Func<TArgs, ValueTask> callback, TArgs arguments, string name)
    {
        try
        {
            await callback(arguments).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The app's callback may throw anything; the request must not fail for it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.CallbackFailed(_logger, name, LogValue.Of(ex));
        }
    }

    /// <summary>One instance's view of a policy's per-minute totals and what it learned from them.</summary>
    private sealed class SurgeState
    {
        private long _minute = long.MinValue;
        private long _lastTotal;
        private bool _surgingMinute;
        private double _baseline;

        public bool TrippedHere { get; set; }

        /// <summary>Folds finished minutes into the baseline (unless they surged) and returns the threshold now.</summary>
        public long Observe(long minute, long total, EmailGuardSurgeBreakerOptions options)
        {
            if (minute != _minute)
            {
                if (_minute != long.MinValue && !_surgingMinute)
                {
                    _baseline = _baseline == 0 ? _lastTotal : (options.BaselineSmoothing * _lastTotal) + ((1 - options.BaselineSmoothing) * _baseline);
                }

                _minute = minute;
                _lastTotal = 0;
                _surgingMinute = false;
            }

            _lastTotal = Math.Max(_lastTotal, total);
            long threshold = long.MaxValue;
            if (options.ThresholdPerMinute > 0)
            {
                threshold = options.ThresholdPerMinute;
            }

            if (options.BaselineMultiple > 0)
            {
                double learned = Math.Ceiling(options.BaselineMultiple * Math.Max(_baseline, options.BaselineFloorPerMinute));
                threshold = Math.Min(threshold, (long)Math.Min(learned, RateLimitRule.MaxLimit));
            }

            _surgingMinute |= total > threshold;
            return threshold;
        }
    }
}
