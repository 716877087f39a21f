namespace EmailGuard;

/// <summary>The fixed, low-cardinality tag values the send guard records decisions with.</summary>
internal static class SendGuardMetricNames
{
    /// <summary>The policy tag of every send-guard decision, so dashboards can tell them from endpoint policies.</summary>
    public const string Policy = "send_guard";

    public static string Dimension(EmailGuardDimension dimension) => dimension switch
    {
        EmailGuardDimension.Global => "global",
        EmailGuardDimension.Tenant => "tenant",
        EmailGuardDimension.Sender => "sender",
        EmailGuardDimension.Recipient => "recipient",
        EmailGuardDimension.RecipientDomain => "recipient_domain",
        EmailGuardDimension.User => "user",
        EmailGuardDimension.ClientIp => "client_ip",
        EmailGuardDimension.Category => "category",
        EmailGuardDimension.Content => "content",
        _ => "message",
    };

    public static string Outcome(EmailSendReason reason) => reason switch
    {
        EmailSendReason.Allowed => "allowed",
        EmailSendReason.LimitExceeded => "limit_exceeded",
        EmailSendReason.Blocklisted => "blocked",
        EmailSendReason.Suspended => "suspended",
        EmailSendReason.InvalidAddress => "invalid_address",
        EmailSendReason.StoreUnavailable => "store_unavailable",
        EmailSendReason.AllowedUnguarded => "allowed_unguarded",
        EmailSendReason.NoRecipients => "no_recipients",
        EmailSendReason.TooManyRecipients => "too_many_recipients",
        EmailSendReason.ContentRejected => "content_rejected",
        EmailSendReason.InvalidParty => "invalid_party",
        _ => "unknown",
    };
}
