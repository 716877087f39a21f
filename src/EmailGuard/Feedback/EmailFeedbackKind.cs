namespace EmailGuard;

/// <summary>What a mail provider reported about one message for one recipient.</summary>
public enum EmailFeedbackKind
{
    /// <summary>Not a valid kind; recording an event of this kind is refused.</summary>
    None = 0,

    /// <summary>The recipient's server accepted the message.</summary>
    Delivered = 1,

    /// <summary>The message bounced; <see cref="EmailFeedbackEvent.BounceType"/> says how.</summary>
    Bounced = 2,

    /// <summary>The recipient marked the message as spam.</summary>
    Complained = 3,

    /// <summary>The recipient unsubscribed, for example through a one-click List-Unsubscribe link.</summary>
    Unsubscribed = 4,
}
