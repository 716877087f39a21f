using System.ComponentModel.DataAnnotations;

namespace EmailGuard;

/// <summary>
/// How EmailGuard protects requests and sends from a slow or dead store: a per-call timeout and a circuit breaker in
/// front of it. While the circuit is open, calls skip the store and go straight to the caller's
/// <see cref="StoreFailureMode"/>.
/// </summary>
public sealed class StoreResilienceOptions
{
    /// <summary>
    /// Gets or sets how long one store call may take before it counts as a failure and the failure mode applies. No
    /// caller waits longer than this for the store, whatever the store's own client timeouts are.
    /// </summary>
    /// <value>The default value is 250 milliseconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:30")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets how long a full load of the send guard's lists and flags may take, and the list changes read after a
    /// burst of writes. A large suppression list takes longer than one round trip (on Redis, 100,000 entries took about
    /// 0.4 s on two cores), so these reads get a bound of their own; every other store call keeps <see cref="Timeout"/>.
    /// A load starts only once the store has answered a version read within <see cref="Timeout"/>, so a dead or hung
    /// store is still found out within <see cref="Timeout"/>. Raise it for a list of millions of entries.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: ten times <see cref="Timeout"/>, at least 5 seconds. A value below
    /// <see cref="Timeout"/> fails at startup.
    /// </value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan? StateLoadTimeout { get; set; }

    /// <summary>
    /// Gets or sets how many app instances share the store. With <see cref="StoreFailureMode.LocalFallback"/>, each
    /// instance enforces its share of every limit, so that the shares of all instances add up to no more than the
    /// limit: the limit divided by this number, rounded down, plus one of the remainder's permits when
    /// <see cref="InstanceIndex"/> gives it one. A limit smaller than this number admits nothing locally unless
    /// <see cref="InstanceIndex"/> is set.
    /// </summary>
    /// <value>The default value is 1.</value>
    [Range(1, 10_000)]
    public int InstanceCount { get; set; } = 1;

    /// <summary>
    /// Gets or sets this instance's index among the <see cref="InstanceCount"/> instances, 0 to InstanceCount - 1, each
    /// instance a different one (e.g. a StatefulSet ordinal). With it, the permits of a limit that do not divide
    /// evenly go to as many instances, chosen per partition, so the instances' shares add up to the limit exactly and a
    /// limit smaller than <see cref="InstanceCount"/> still admits locally on some instances. Two instances with the
    /// same index can together exceed the limit by the remainder.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: shares are rounded down and the remainder is not used.</value>
    public int? InstanceIndex { get; set; }

    /// <summary>
    /// Gets or sets how many store calls in a row must fail (throw or time out) for the circuit to open.
    /// </summary>
    /// <value>The default value is 5.</value>
    [Range(1, 10_000)]
    public int ConsecutiveFailureThreshold { get; set; } = 5;

    /// <summary>
    /// Gets or sets the share of failed calls within <see cref="SamplingDuration"/> that opens the circuit, once at least
    /// <see cref="MinimumThroughput"/> calls were made in it. It catches a store that fails often but not every time.
    /// </summary>
    /// <value>The default value is 0.5.</value>
    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>
    /// Gets or sets how far back <see cref="FailureRatio"/> looks.
    /// </summary>
    /// <value>The default value is 10 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how many calls <see cref="SamplingDuration"/> must hold before <see cref="FailureRatio"/> is applied,
    /// so that two failures out of three calls on a quiet app do not open the circuit.
    /// </summary>
    /// <value>The default value is 20.</value>
    [Range(2, 1_000_000)]
    public int MinimumThroughput { get; set; } = 20;

    /// <summary>
    /// Gets or sets how long the circuit stays open: store calls are skipped for this long, then one call probes the
    /// store (half-open) and closes the circuit if it succeeds or opens it again if it fails.
    /// </summary>
    /// <value>The default value is 5 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);
}
