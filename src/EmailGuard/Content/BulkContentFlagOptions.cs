namespace EmailGuard;

/// <summary>
/// When a user or tenant whose messages keep hitting the content rules is flagged with
/// <see cref="EmailGuardFlagReasons.BulkContent"/>, bound from <c>EmailGuard:SendGuard:BulkContent</c>. The flag's
/// effect (reduced limits or a suspension, and for how long) is the reason's <see cref="FlagPolicy"/> in
/// <see cref="SendGuardOptions.FlagPolicies"/>.
/// </summary>
/// <remarks>
/// Trips are counted in the rate-limit store, per user and per tenant, so every app instance sees them. One message
/// the content rules deny is one trip, however many recipients it had.
/// </remarks>
public sealed class BulkContentFlagOptions
{
    /// <summary>Gets or sets how many content-rule denials within <see cref="Period"/> flag the user or tenant; 0 never flags.</summary>
    /// <value>The default value is 3.</value>
    public int Trips { get; set; } = 3;

    /// <summary>Gets or sets the window the trips are counted in (fixed windows, aligned like every other rule's).</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan Period { get; set; } = TimeSpan.FromHours(1);
}
