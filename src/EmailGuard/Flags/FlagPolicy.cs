using System.ComponentModel.DataAnnotations;

namespace EmailGuard;

/// <summary>What a flag of one reason does to the flagged user or tenant.</summary>
public sealed class FlagPolicy
{
    /// <summary>
    /// Gets or sets the share of every normal limit the party keeps while flagged, e.g. 0.1 for a tenth. The reduced
    /// rules count into the same counters as the normal ones, so what was already sent in the window counts.
    /// </summary>
    /// <value>The default value is 0.1.</value>
    [Range(0.000001, 1.0)]
    public double LimitFactor { get; set; } = 0.1;

    /// <summary>Gets or sets whether the flag suspends sending outright instead of reducing limits.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Suspend { get; set; }

    /// <summary>Gets or sets how long a flag lasts when the caller gives no duration.</summary>
    /// <value>The default value is 24 hours.</value>
    [Range(typeof(TimeSpan), "00:00:01", "366.00:00:00")]
    public TimeSpan Duration { get; set; } = TimeSpan.FromHours(24);
}
