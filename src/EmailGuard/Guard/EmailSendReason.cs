namespace EmailGuard;

/// <summary>Why the send guard allowed or denied a message.</summary>
public enum EmailSendReason
{
    /// <summary>Every applicable rule had room; the permits were taken.</summary>
    Allowed = 0,

    /// <summary>A rule of <see cref="EmailSendDecision.Dimension"/> has no room; nothing was taken.</summary>
    LimitExceeded = 1,

    /// <summary>A party of the message is on the blocklist; nothing was taken.</summary>
    Blocklisted = 2,

    /// <summary>The tenant or user is suspended by a flag; nothing was taken.</summary>
    Suspended = 3,

    /// <summary>An address is not a valid mailbox (<see cref="EmailSendDecision.InvalidAddress"/>); nothing was taken.</summary>
    InvalidAddress = 4,

    /// <summary>The store could not be reached and the failure mode is to deny.</summary>
    StoreUnavailable = 5,

    /// <summary>The store could not be reached and the failure mode is to send without counting.</summary>
    AllowedUnguarded = 6,

    /// <summary>The message has no recipient.</summary>
    NoRecipients = 7,

    /// <summary>The message has more recipients than <see cref="SendGuardOptions.MaxRecipientsPerMessage"/> allows.</summary>
    TooManyRecipients = 8,
}
