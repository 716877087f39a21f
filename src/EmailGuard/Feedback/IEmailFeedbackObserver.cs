namespace EmailGuard;

/// <summary>
/// Told about each feedback event <see cref="IEmailGuardFeedback.RecordAsync"/> records (never a duplicate), after the
/// counts and suppression. Register implementations in DI (<c>TryAddEnumerable</c>); a sibling package acts on
/// feedback through this, as the ASP.NET Core package bans a client network from the endpoint policy whose requests
/// caused bouncing mail. Unlike <see cref="EmailFeedbackEvents"/>, which belong to the app, observers belong to packages.
/// </summary>
/// <remarks>
/// Observers are awaited on the recording call (a webhook request), one after the other: keep them short. An exception
/// from an observer is logged and swallowed; the event stays recorded.
/// </remarks>
public interface IEmailFeedbackObserver
{
    /// <summary>Called once for each recorded event.</summary>
    /// <param name="arguments">The event, its attribution (the endpoint policy and client network of the request that caused the mail) and the normalized recipient.</param>
    /// <param name="cancellationToken">The recording call's cancellation.</param>
    /// <returns>A task that completes when the observer is done.</returns>
    ValueTask OnRecordedAsync(EmailFeedbackArguments arguments, CancellationToken cancellationToken);
}
