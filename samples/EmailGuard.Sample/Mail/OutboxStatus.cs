namespace EmailGuard.Sample.Mail;

/// <summary>Where a mail stands in the dev outbox.</summary>
public enum OutboxStatus
{
    /// <summary>Accepted by the guard and waiting in the background queue.</summary>
    Queued,

    /// <summary>Handed to the transport (pickup folder or SMTP).</summary>
    Sent,

    /// <summary>Refused at dequeue (for example, its tenant was suspended meanwhile) or rejected by the transport.</summary>
    Failed,

    /// <summary>Dropped at dequeue on purpose: a password reset for an address without an account.</summary>
    Skipped,

    /// <summary>Sent, and then the (simulated) provider reported a bounce through the feedback webhook.</summary>
    Bounced,

    /// <summary>Sent, and then the (simulated) provider reported a spam complaint through the feedback webhook.</summary>
    Complained,
}
