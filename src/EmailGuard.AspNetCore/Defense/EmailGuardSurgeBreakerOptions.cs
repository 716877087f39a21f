namespace EmailGuard.AspNetCore;

/// <summary>
/// A breaker on an endpoint policy's total rate, summed over every client: a bot spread over many networks keeps each
/// one under its limit, but its total is far above normal. The breaker trips when this minute's total exceeds the
/// threshold, stays tripped for <see cref="TripFor"/>, and trips again while the surge goes on.
/// </summary>
/// <remarks>
/// Totals are counters in the rate-limit store, so every instance counts every request. Set
/// <see cref="ThresholdPerMinute"/>, <see cref="BaselineMultiple"/> or both (the breaker then trips on the lower).
/// The baseline is an exponentially weighted average of earlier minutes' totals, learned by each instance from the
/// shared totals; minutes during a surge are not learned, so a long surge does not become normal.
/// </remarks>
public sealed class EmailGuardSurgeBreakerOptions
{
    /// <summary>Gets or sets an absolute threshold: requests per minute, summed over all clients; 0 for none.</summary>
    /// <value>The default value is 0.</value>
    public long ThresholdPerMinute { get; set; }

    /// <summary>Gets or sets a threshold as a multiple of the learned per-minute baseline; 0 for none, else from 1 to 1,000,000.</summary>
    /// <value>The default value is 0.</value>
    public double BaselineMultiple { get; set; }

    /// <summary>Gets or sets the smallest baseline, per minute, so a quiet endpoint does not trip on a handful of requests.</summary>
    /// <value>The default value is 10.</value>
    public long BaselineFloorPerMinute { get; set; } = 10;

    /// <summary>Gets or sets the weight of the latest minute in the baseline, above 0 and at most 1.</summary>
    /// <value>The default value is 0.1.</value>
    public double BaselineSmoothing { get; set; } = 0.1;

    /// <summary>Gets or sets how long the breaker stays tripped.</summary>
    /// <value>The default value is 10 minutes.</value>
    public TimeSpan TripFor { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets or sets what the policy answers while the breaker is tripped.</summary>
    /// <value>The default value is <see cref="EmailGuardSurgeAction.Challenge"/>.</value>
    public EmailGuardSurgeAction Action { get; set; } = EmailGuardSurgeAction.Challenge;

    /// <summary>The settings configuration holds keys for, when these options were bound from it.</summary>
    internal AssignedSettings Assigned { get; } = new();

    /// <summary>
    /// These options over <paramref name="code"/>'s: when they come from configuration, each setting it holds a key
    /// for wins and every other setting keeps the code's value; options set in code win whole.
    /// </summary>
    /// <param name="code">The options the policy builder set, if any.</param>
    /// <returns>The options that apply.</returns>
    internal EmailGuardSurgeBreakerOptions Over(EmailGuardSurgeBreakerOptions? code)
        => code is null || !Assigned.FromConfiguration
            ? this
            : new()
            {
                ThresholdPerMinute = Assigned.Pick(nameof(ThresholdPerMinute), ThresholdPerMinute, code.ThresholdPerMinute),
                BaselineMultiple = Assigned.Pick(nameof(BaselineMultiple), BaselineMultiple, code.BaselineMultiple),
                BaselineFloorPerMinute = Assigned.Pick(nameof(BaselineFloorPerMinute), BaselineFloorPerMinute, code.BaselineFloorPerMinute),
                BaselineSmoothing = Assigned.Pick(nameof(BaselineSmoothing), BaselineSmoothing, code.BaselineSmoothing),
                TripFor = Assigned.Pick(nameof(TripFor), TripFor, code.TripFor),
                Action = Assigned.Pick(nameof(Action), Action, code.Action),
            };
}
