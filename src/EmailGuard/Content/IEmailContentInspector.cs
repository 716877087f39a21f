namespace EmailGuard;

/// <summary>
/// Judges what a message says before it is sent: a spam filter, an LLM or embedding classifier ("is this phishing?"),
/// a URL reputation lookup. The send guard calls it for every message that carries <see cref="OutboundEmail.Content"/>
/// and that the rate limits admitted, within <see cref="ContentInspectionOptions.Timeout"/>.
/// </summary>
/// <remarks>
/// <para>
/// Register one with <c>AddContentInspector&lt;T&gt;()</c> on the EmailGuard builder; it is a singleton. The guard
/// calls it only after the counters admitted the message, so a flood held back by the limits costs no classifier calls;
/// a <see cref="EmailContentVerdictKind.Deny"/> gives the message's permits back.
/// </para>
/// <para>
/// Honour the cancellation token: it is cancelled when the time budget is spent or the caller gives up. The guard stops
/// waiting at the budget either way, and what happens then is <see cref="ContentInspectionOptions.FailureMode"/>. A
/// thrown exception is a failure too, never an exception from the check.
/// </para>
/// </remarks>
public interface IEmailContentInspector
{
    /// <summary>Judges one message's content.</summary>
    /// <param name="arguments">The message and its content.</param>
    /// <param name="cancellationToken">Cancelled when the time budget is spent or the caller gives up.</param>
    /// <returns>Allow, flag (send, and flag the user or tenant) or deny, with a reason.</returns>
    ValueTask<EmailContentVerdict> InspectAsync(EmailContentInspectionArguments arguments, CancellationToken cancellationToken);
}
