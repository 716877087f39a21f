using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard;

/// <summary>
/// Counts the limit denials of each dimension for the spike alerts in the rate-limit store, so that the threshold applies
/// to the app as a whole: a flood spread over four instances, each below the threshold, is one flood. One counter per
/// dimension and <see cref="EmailGuardAlertOptions.SpikeWindow"/> (a fixed window whose limit is
/// <see cref="RateLimitRule.MaxLimit"/>, so it counts and never denies), through <see cref="IResilientRateLimitStore"/>
/// as the guard calls it: bounded by its timeout, behind its circuit breaker. The instance whose denials carry the
/// shared count past a multiple of the threshold raises the spike.
/// </summary>
/// <remarks>
/// <para>
/// Batched, so a flood costs no store call per denial: each dimension has at most one call in flight, the next starts
/// <see cref="FlushInterval"/> after a call that did not complete at once (a remote store's), and the denials heard
/// meanwhile go in it as one increment. The first denial of a quiet dimension is counted at once (on the in-memory
/// store, before the guard's event returns).
/// </para>
/// <para>
/// When the store cannot count (it fails, does not answer in time, or its circuit is open) the batch is counted in this
/// instance's memory instead, per window as before the counts were shared, and logged once (3016) until the store
/// counts again: during an outage a spike is what one instance sees. Never throws: it runs inside the guard's event.
/// </para>
/// </remarks>
internal sealed partial class SpikeCounter
{
    /// <summary>The prefix of the counters' keys; the dimension's name follows.</summary>
    internal const string KeyPrefix = "emailguard:alerts:spike:";

    /// <summary>
    /// How long after a store call that went over the network the next one for its dimension waits: a flood costs each
    /// instance at most four calls a second and dimension, however fast it is denied, and a spike is paged that much later.
    /// </summary>
    internal static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(250);

    private readonly IResilientRateLimitStore _store;
    private readonly long _threshold;
    private readonly TimeSpan _window;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Action<EmailGuardLimitArguments, long> _onSpike;
    private readonly Lock _lock = new();
    private readonly Dictionary<EmailGuardDimension, State> _states = [];
    private int _countingHere;

    /// <param name="store">The store the guard counts in.</param>
    /// <param name="threshold">How many denials make a spike; each further multiple makes another.</param>
    /// <param name="window">The window denials are counted in: a whole number of milliseconds (the options' validation checks it).</param>
    /// <param name="timeProvider">This instance's clock, for the windows counted in memory.</param>
    /// <param name="logger">Where the fall back to counting in memory is logged.</param>
    /// <param name="onSpike">Raises the spike: the latest denial of the batch that crossed the multiple, and the count after it.</param>
    public SpikeCounter(
        IResilientRateLimitStore store, long threshold, TimeSpan window, TimeProvider timeProvider, ILogger logger, Action<EmailGuardLimitArguments, long> onSpike)
    {
        _store = store;
        _threshold = threshold;
        _window = window;
        _timeProvider = timeProvider;
        _logger = logger;
        _onSpike = onSpike;
        Rule = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, window);
    }

    /// <summary>The counters' rule: a fixed window of <see cref="EmailGuardAlertOptions.SpikeWindow"/> that counts and never denies.</summary>
    internal RateLimitRule Rule { get; }

    /// <summary>The key of a dimension's counter.</summary>
    internal static string Key(EmailGuardDimension dimension) => KeyPrefix + dimension.ToString();

    /// <summary>Counts one denial; starts a store call for its dimension unless one is in flight, which takes it along.</summary>
    public void Add(EmailGuardLimitArguments denial)
    {
        EmailGuardDimension dimension = denial.Usage.Dimension;
        State? state;
        bool start;
        lock (_lock)
        {
            if (!_states.TryGetValue(dimension, out state))
            {
                _states[dimension] = state = new State(Key(dimension));
            }

            state.Pending++;
            state.Latest = denial;
            start = !state.Flushing;
            state.Flushing = true;
        }

        if (start)
        {
            _ = FlushAsync(state);
        }
    }

    /// <summary>Counts what is pending until nothing is; the only code that touches a state's counter fields meanwhile.</summary>
    private async Task FlushAsync(State state)
    {
        while (true)
        {
            long cost;
            EmailGuardLimitArguments latest;
            lock (_lock)
            {
                cost = state.Pending;
                if (cost == 0)
                {
                    state.Flushing = false;
                    return;
                }

                latest = state.Latest!;
                state.Pending = 0;
            }

            bool remote = false;
            try
            {
                ValueTask<long> counting = CountAsync(state, cost);
                remote = !counting.IsCompleted;
                long count = await counting.ConfigureAwait(false);

                // One alert for a batch however many multiples it crossed: the gate would count the others as repeats.
                if (count / _threshold > (count - cost) / _threshold)
                {
                    _onSpike(latest, count);
                }
            }
            catch (Exception ex)
            {
                // Only bad input escapes the resilient store; a spike that cannot be counted must not stop the counting.
                CountingHere(ex.GetType().Name);
            }

            if (remote)
            {
                // A flood the over-limit cache denies without a round trip must not cost one a denial here either: the
                // denials heard until the interval ends go in the next call, still flushing, so a new one starts none.
                await Task.Delay(FlushInterval, _timeProvider).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Adds <paramref name="cost"/> to the dimension's shared counter and returns its count, or counts here when the store cannot.</summary>
    private async ValueTask<long> CountAsync(State state, long cost)
    {
        state.Request[0] = new RateLimitRequest(state.Key, Rule, cost);
        RateLimitDecision decision = await _store.AcquireAsync(state.Request, state.Entry, StoreFailureMode.FailClosed, CancellationToken.None).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.Allowed)
        {
            Volatile.Write(ref _countingHere, 0);
            return state.Entry[0].Count;
        }

        CountingHere(decision.Status.ToString());
        long window = _timeProvider.GetUtcNow().UtcTicks / _window.Ticks;
        if (state.LocalWindow != window)
        {
            state.LocalWindow = window;
            state.LocalCount = 0;
        }

        state.LocalCount += cost;
        return state.LocalCount;
    }

    private void CountingHere(string reason)
    {
        if (Interlocked.Exchange(ref _countingHere, 1) == 0)
        {
            Log.CountingHere(_logger, reason);
        }
    }

    private sealed class State(string key)
    {
        public string Key { get; } = key;

        public RateLimitRequest[] Request { get; } = new RateLimitRequest[1];

        public RateLimitEntry[] Entry { get; } = new RateLimitEntry[1];

        /// <summary>Denials heard and not yet counted; under the counter's lock.</summary>
        public long Pending;

        /// <summary>Whether a flush runs; under the counter's lock.</summary>
        public bool Flushing;

        public EmailGuardLimitArguments? Latest;

        public long LocalWindow = -1;

        public long LocalCount;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3016, EventName = "AlertSpikeCountedHere", Level = LogLevel.Warning,
            Message = "Limit denials could not be counted in the store for the spike alerts ({Reason}); each instance counts its own until the store counts again.")]
        public static partial void CountingHere(ILogger logger, string reason);
    }
}
