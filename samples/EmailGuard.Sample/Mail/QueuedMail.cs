namespace EmailGuard.Sample.Mail;

/// <summary>
/// A mail in the delivery queue with the slot the guard reserved for it when it was accepted: the worker sends it at
/// <see cref="EmailSendDecision.SendAt"/>, and cancels the reservation (a refund) if it does not send it.
/// </summary>
public sealed record QueuedMail(OutgoingMail Mail, EmailSendDecision Reservation);
