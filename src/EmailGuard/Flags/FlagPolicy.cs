namespace EmailGuard;

/// <summary>What a flag of one reason does to the flagged user or tenant.</summary>
/// <remarks>
/// Checked at startup by the send guard's options validator, the default policy and every named one alike, each under
/// its own path. No data annotations: their generated check named the default policy's duration
/// <c>EmailGuard:SendGuard:Duration</c>, next to the validator's own message.
/// </remarks>
public sealed class FlagPolicy
{
    /// <summary>
    /// Gets or sets the share of every normal limit the party keeps while flagged, e.g. 0.1 for a tenth. The reduced
    /// rules count into the same counters as the normal ones, so what was already sent in the window counts.
    /// </summary>
    /// <value>The default value is 0.1; it must be above 0 and at most 1.</value>
    public double LimitFactor { get; set; } = 0.1;

    /// <summary>Gets or sets whether the flag suspends sending outright instead of reducing limits.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Suspend { get; set; }

    /// <summary>Gets or sets how long a flag lasts when the caller gives no duration.</summary>
    /// <value>The default value is 24 hours; it must be positive and at most 366 days.</value>
    public TimeSpan Duration { get; set; } = TimeSpan.FromHours(24);
}
