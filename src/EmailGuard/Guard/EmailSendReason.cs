namespace EmailGuard;

/// <summary>Why the send guard allowed or denied a message.</summary>
/// <remarks>
/// The zero value is <see cref="None"/>, a denial: a <see langword="default"/> <see cref="EmailSendDecision"/> never
/// allows a message.
/// </remarks>
public enum EmailSendReason
{
    /// <summary>No decision was made: the value of a <see langword="default"/> decision. It denies; nothing was taken.</summary>
    None = 0,

    /// <summary>Every applicable rule had room; the permits were taken.</summary>
    Allowed = 1,

    /// <summary>A rule of <see cref="EmailSendDecision.Dimension"/> has no room; nothing was taken.</summary>
    LimitExceeded = 2,

    /// <summary>A party of the message is on the blocklist; nothing was taken.</summary>
    Blocklisted = 3,

    /// <summary>The tenant or user is suspended by a flag; nothing was taken.</summary>
    Suspended = 4,

    /// <summary>An address is not a valid mailbox (<see cref="EmailSendDecision.InvalidAddress"/>); nothing was taken.</summary>
    InvalidAddress = 5,

    /// <summary>The store could not be reached and the failure mode is to deny.</summary>
    StoreUnavailable = 6,

    /// <summary>The store could not be reached and the failure mode is to send without counting.</summary>
    AllowedUnguarded = 7,

    /// <summary>The message has no recipient.</summary>
    NoRecipients = 8,

    /// <summary>The message has more recipients than <see cref="SendGuardOptions.MaxRecipientsPerMessage"/> allows.</summary>
    TooManyRecipients = 9,

    /// <summary>
    /// The <see cref="IEmailContentInspector"/> denied the content (<see cref="EmailSendDecision.Detail"/> has its
    /// reason), or could not answer in time and its failure mode is to deny; the permits were given back.
    /// </summary>
    ContentRejected = 10,

    /// <summary>
    /// The message's tenant, user or category id (<see cref="EmailSendDecision.Dimension"/> says which) is longer than
    /// 192 bytes in UTF-8, more than its attribution can carry back with the provider's feedback, or is empty or only
    /// white space, which names no party the flags, lists and feedback can act on (null is a message without one); nothing
    /// was taken.
    /// </summary>
    InvalidParty = 11,
}
