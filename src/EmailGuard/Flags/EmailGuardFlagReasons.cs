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
