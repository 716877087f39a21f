namespace EmailGuard;

/// <summary>
/// Callbacks raised when feedback is recorded, for alerts and dashboards. They are awaited on the recording call (a
/// webhook request): keep them short and hand slow work off. An exception from a callback is logged and swallowed.
/// </summary>
public sealed class EmailFeedbackEvents
{
    /// <summary>Gets or sets the callback raised for each new bounce (any bounce type).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailFeedbackArguments, ValueTask>? OnBounce { get; set; }

    /// <summary>Gets or sets the callback raised for each new complaint.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailFeedbackArguments, ValueTask>? OnComplaint { get; set; }

    /// <summary>
    /// Gets or sets the callback raised when feedback puts a recipient on the blocklist: once per event, by whichever
    /// delivery of it marks the suppression done (a provider's retry that completes a suppression an outage cut short
    /// included), and not for a recipient already suppressed before the event.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<EmailSuppressionArguments, ValueTask>? OnSuppressed { get; set; }
}
