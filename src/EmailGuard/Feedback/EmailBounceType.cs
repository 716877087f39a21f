namespace EmailGuard;

/// <summary>How a bounce is classified by the provider.</summary>
public enum EmailBounceType
{
    /// <summary>Not a bounce.</summary>
    None = 0,

    /// <summary>A hard bounce: the address does not exist or will never accept mail. Providers count these.</summary>
    Permanent = 1,

    /// <summary>A soft bounce: a full mailbox, a greylisting server, a temporary failure.</summary>
    Transient = 2,

    /// <summary>The provider could not tell whether the bounce is permanent.</summary>
    Undetermined = 3,
}
