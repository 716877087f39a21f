using System.Globalization;

namespace EmailGuard.Sample.Guard;

/// <summary>What the sample tells a person about the send guard's decision on one mail.</summary>
public sealed record GuardVerdict(bool Allowed, string? Reason, TimeSpan RetryAfter)
{
    /// <summary>When an allowed mail goes out: its slot at the provider's pace (now, or later for a backlog).</summary>
    public DateTimeOffset? SendAt { get; init; }

    public static GuardVerdict From(EmailSendDecision decision)
    {
        if (decision.IsAllowed)
        {
            return new GuardVerdict(true, null, TimeSpan.Zero) { SendAt = decision.SendAt };
        }

        string reason = decision.Reason switch
        {
            EmailSendReason.Suspended => $"sending for {Party(decision.Dimension)} {decision.Partition} is suspended ({Strip(decision.Detail, "Suspended: ")})",
            EmailSendReason.Blocklisted => $"{decision.Recipient ?? decision.Partition} is on the blocklist ({Strip(decision.Detail, "Blocklisted: ")})",
            EmailSendReason.LimitExceeded => LimitReached(decision),
            EmailSendReason.InvalidAddress => $"'{decision.InvalidAddress}' is not a valid address",
            EmailSendReason.StoreUnavailable => "the limits cannot be checked right now",
            EmailSendReason.ContentRejected => $"the content was rejected ({Strip(decision.Detail, "Content rejected: ")})",
            _ => decision.Reason.ToString(),
        };
        TimeSpan retry = decision.Reason == EmailSendReason.LimitExceeded ? decision.RetryAfter : TimeSpan.Zero;
        return new GuardVerdict(false, reason, retry);
    }

    private static string LimitReached(EmailSendDecision decision)
    {
        foreach (EmailSendRuleUsage usage in decision.Usage)
        {
            if (!usage.IsAllowed)
            {
                string window = usage.Rule.Window == TimeSpan.FromDays(1) ? "day"
                    : usage.Rule.Window == TimeSpan.FromHours(1) ? "hour"
                    : usage.Rule.Window.ToString();
                if (usage.Dimension == EmailGuardDimension.Content)
                {
                    // The partition is a fingerprint, meaningless to a person.
                    return string.Create(CultureInfo.InvariantCulture, $"the same text reached its cap of {usage.Limit} recipients per {window}");
                }

                string who = usage.Partition is null ? Party(usage.Dimension) : $"{Party(usage.Dimension)} {usage.Partition}";
                return string.Create(CultureInfo.InvariantCulture, $"{who} reached its cap of {usage.Limit} per {window}");
            }
        }

        return $"the {Party(decision.Dimension)} limit is reached";
    }

    private static string? Strip(string? detail, string prefix)
        => detail is not null && detail.StartsWith(prefix, StringComparison.Ordinal) ? detail[prefix.Length..] : detail;

    private static string Party(EmailGuardDimension dimension) => dimension switch
    {
        EmailGuardDimension.RecipientDomain => "recipient domain",
        EmailGuardDimension.ClientIp => "network",
        _ => dimension.ToString().ToLowerInvariant(),
    };
}
