namespace EmailGuard;

/// <summary>The reasons feedback writes on the blocklist entries it adds.</summary>
public static class EmailFeedbackSuppressionReasons
{
    /// <summary>A permanent bounce: the address does not exist.</summary>
    public const string HardBounce = "hard_bounce";

    /// <summary>The recipient marked a message as spam.</summary>
    public const string Complaint = "complaint";

    /// <summary>Too many transient bounces within <see cref="EmailFeedbackOptions.TransientBouncePeriod"/>.</summary>
    public const string TransientBounces = "transient_bounces";

    /// <summary>The recipient unsubscribed from one category; the entry's party type is <see cref="EmailGuardPartyType.CategoryRecipient"/>.</summary>
    public const string Unsubscribe = "unsubscribe";
}
