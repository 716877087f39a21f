namespace EmailGuard.Dashboard;

/// <summary>
/// Raises alerts; registered by <c>AddAlerts(...)</c>. EmailGuard raises its own (limit spikes, near global caps,
/// flags, store outages); other components, such as a breaker, raise theirs through this interface.
/// </summary>
public interface IEmailGuardAlerts
{
    /// <summary>
    /// Queues an alert for delivery in the background. Never blocks and never throws for delivery: a full queue or a
    /// dead endpoint is logged and counted.
    /// </summary>
    /// <param name="alert">The alert.</param>
    /// <returns><see langword="true"/> when the alert was queued, also when its kind's roll-up alert was queued in its place; <see langword="false"/> when it was suppressed as a repeat of its condition (or counted in its kind's roll-up) within the period, or dropped because the queue is full.</returns>
    bool Raise(EmailGuardAlert alert);
}
