namespace EmailGuard;

/// <summary>
/// One provider event for one recipient: a delivery, a bounce, a complaint or an unsubscribe. A provider webhook that
/// names several recipients becomes several events, each with its own <see cref="ProviderEventId"/>.
/// </summary>
public sealed class EmailFeedbackEvent
{
    /// <summary>The provider's name, such as <c>ses</c>, <c>mailgun</c>, <c>sendgrid</c> or <c>postmark</c>.</summary>
    public required string Provider { get; init; }

    /// <summary>
    /// The provider's id for this event, unique per recipient. Recording is idempotent on (provider, event id): a
    /// second delivery of the same event changes nothing.
    /// </summary>
    public required string ProviderEventId { get; init; }

    /// <summary>The provider's id for the message, used to find the attribution when the event carries none.</summary>
    public string? ProviderMessageId { get; init; }

    /// <summary>The recipient the event is about.</summary>
    public required string Recipient { get; init; }

    /// <summary>What happened.</summary>
    public required EmailFeedbackKind Kind { get; init; }

    /// <summary>For a bounce, how the provider classified it; otherwise <see cref="EmailBounceType.None"/>.</summary>
    public EmailBounceType BounceType { get; init; }

    /// <summary>
    /// Whether the provider never sent the message because the recipient was already on its own suppression list: an
    /// SES bounce of sub-type <c>OnAccountSuppressionList</c>, a SendGrid <c>dropped</c> event for an address on its
    /// bounce, spam report, unsubscribe or invalid list, a Mailgun <c>failed</c> event with reason <c>suppress-bounce</c>,
    /// <c>suppress-complaint</c> or <c>suppress-unsubscribe</c>, a Postmark <c>SMTPApiError</c> bounce.
    /// <see cref="Kind"/> says which list (a permanent bounce, a complaint, an unsubscribe). Such an event suppresses the
    /// address as its kind does, and counts as a failure toward no ratio, breaker or ban: the mail never left, and the
    /// providers do not count it toward the account's rates either. For the same reason its mail is left out of the
    /// sends of the parties the guard's own record of it names (its message-id mapping, or signed tags).
    /// </summary>
    /// <value>The default value is <see langword="false"/>: the provider reports on mail it tried to deliver.</value>
    public bool SuppressedByProvider { get; init; }

    /// <summary>
    /// Whether the bounce is a rejection of the message or of its sender, not of the address: its content or an
    /// attachment (SES <c>Transient</c> bounces of sub-type <c>ContentRejected</c> or <c>AttachmentRejected</c>), its size
    /// (<c>MessageTooLarge</c>), a spam filter, a blocklisted sending IP or domain, a DMARC policy (a SendGrid <c>blocked</c>
    /// bounce or a bounce classified <c>Content</c>, <c>Reputation</c> or <c>Frequency or Volume Too High</c>, a Mailgun
    /// <c>failed</c> event with reason <c>espblock</c>, a Postmark <c>Blocked</c>, <c>DMARCPolicy</c>, <c>SpamNotification</c>
    /// or <c>VirusNotification</c> bounce). Such a
    /// bounce says nothing of the mailbox, which takes the next mail of another sender: it counts against the sender as a
    /// bounce whatever its <see cref="BounceType"/> (the per-party <c>Bounces</c>, ratios and breakers), but never toward the address's
    /// soft-bounce count and never suppresses the address, even when the provider calls it permanent. Otherwise anyone
    /// who can make the app send a few spammy mails (a rogue tenant) could cut a chosen recipient off from every tenant.
    /// Only a bounce can be one, and not one the provider never sent (<see cref="SuppressedByProvider"/>).
    /// </summary>
    /// <value>The default value is <see langword="false"/>: the bounce is about the address.</value>
    public bool RejectedForMessage { get; init; }

    /// <summary>
    /// Whether the provider's report is not certain about the recipient: which address it names, or what happened to it
    /// (a SendGrid event that repeats its own <c>email</c>, <c>event</c>, <c>type</c> or <c>bounce_classification</c>,
    /// because SendGrid echoes a custom arg of that name beside its field, and which copy is SendGrid's cannot be told).
    /// Such an event counts against its parties as any other (the account, and whoever its attribution names: ratios,
    /// breakers, bans), but never suppresses an address and never counts toward an address's soft bounces: otherwise
    /// whoever names the custom arg chooses whose address is cut off. <see cref="Recipient"/> is then the provider's
    /// address when that much is certain, and a placeholder that is no mailbox (<c>unknown@recipient.invalid</c>) when
    /// it is not: a callback that acts on the address checks this first.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: the report is certain of its recipient.</value>
    public bool RecipientUncertain { get; init; }

    /// <summary>When the provider says the event happened.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>
    /// When the message was sent, when known: only from a field the provider itself writes and signs or authenticates,
    /// such as SES's <c>mail.timestamp</c>, never from a tag, variable, custom arg, metadata or header the sender writes
    /// (a bot would date its own bounces back). A ratio breaker's half-open probe judges only the mail sent in its
    /// phase: a bounce or complaint of mail sent before the phase began counts in the party's window, not in its probe.
    /// When the message id was tracked (<see cref="IEmailGuardFeedback.TrackAsync"/>), the time of tracking wins over
    /// this one.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: unknown, and the failure counts in a half-open probe, since a bounce
    /// that cannot be dated may be of the probe's own mail.
    /// </value>
    public DateTimeOffset? SentAt { get; init; }

    /// <summary>
    /// The attribution of the message as the caller vouches for it, taken as it is. Set <see cref="Tags"/> instead for
    /// the tags a provider echoed: they are checked. When both are null, or the tags name no party the recorder accepts,
    /// the attribution is looked up by <see cref="ProviderMessageId"/>, which wins over both when it is mapped.
    /// </summary>
    public EmailSendAttribution? Attribution { get; init; }

    /// <summary>
    /// The tags the provider echoed back (message tags, variables, custom args, metadata), as it sent them; only those
    /// named with <see cref="EmailFeedbackTags.Prefix"/> are read. Used when <see cref="Attribution"/> is null: read as
    /// <see cref="EmailFeedbackTags.TryRead"/> reads them, and, when <see cref="EmailFeedbackOptions.TagSigningKeys"/>
    /// lists keys, taken only when one of them signed the tags (<see cref="EmailFeedbackTags.SignatureTag"/>). Tags
    /// that are unreadable, unsigned or wrongly signed name no party; the event still suppresses its address. EmailGuard's
    /// webhooks set these.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>For an unsubscribe, the category it applies to, when the provider says; otherwise the attribution's category.</summary>
    public string? Category { get; init; }

    /// <summary>The provider's diagnostic text (bounce sub-type, SMTP status), for logs only; it is never stored.</summary>
    public string? Detail { get; init; }
}
