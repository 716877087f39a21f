namespace EmailGuard;

/// <summary>
/// The well-known flag reasons. Reasons are plain strings, so an application can add its own and give them a
/// <see cref="FlagPolicy"/> in <see cref="SendGuardOptions.FlagPolicies"/>.
/// </summary>
public static class EmailGuardFlagReasons
{
    /// <summary>The party's mail bounces too often (the provider's suspension trigger).</summary>
    public const string HighBounceRate = "high_bounce_rate";

    /// <summary>Recipients complained about the party's mail (marked it as spam).</summary>
    public const string Complaint = "complaint";

    /// <summary>The party's complaint rate crossed a ratio breaker's threshold (recipients mark its mail as spam).</summary>
    public const string ComplaintRate = "complaint_rate";

    /// <summary>
    /// A ratio breaker that tripped on <see cref="HighBounceRate"/> is half-open: the party sends at reduced limits while
    /// its bounce rate is measured over what it sends (see <see cref="EmailRatioBreakerOptions.HalfOpenFor"/>).
    /// </summary>
    public const string HighBounceRateHalfOpen = "high_bounce_rate_half_open";

    /// <summary>As <see cref="HighBounceRateHalfOpen"/>, for a breaker that tripped on <see cref="ComplaintRate"/>.</summary>
    public const string ComplaintRateHalfOpen = "complaint_rate_half_open";

    /// <summary>
    /// A risky category (<see cref="EmailRatioBreakerOptions.RiskyCategories"/>) is held to reduced limits because the
    /// whole account's hard-bounce ratio, or the category's own, nears the provider's line.
    /// </summary>
    public const string AccountBounceRate = "account_bounce_rate";

    /// <summary>As <see cref="AccountBounceRate"/>, for the complaint ratio.</summary>
    public const string AccountComplaintRate = "account_complaint_rate";

    /// <summary>
    /// The party's messages kept hitting the content rules: the same text to more recipients than
    /// <see cref="SendGuardOptions.Content"/> allows, <see cref="BulkContentFlagOptions.Trips"/> times within
    /// <see cref="BulkContentFlagOptions.Period"/>.
    /// </summary>
    public const string BulkContent = "bulk_content";

    /// <summary>
    /// Most of the party's recipients were new to it: at least <see cref="FanOutFlagOptions.NewRecipients"/> within
    /// <see cref="FanOutFlagOptions.Period"/>, and at least <see cref="FanOutFlagOptions.NewShare"/> of the period's
    /// recipients (a "high frequency" fan-out: one account mailing strangers).
    /// </summary>
    public const string FanOut = "fan_out";

    /// <summary>An operator flagged the party by hand.</summary>
    public const string Manual = "manual";
}
