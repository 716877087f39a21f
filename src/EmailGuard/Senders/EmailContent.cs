namespace EmailGuard;

/// <summary>
/// What a message says. The transport sends it; the send guard reads it only when the app passes it in
/// <see cref="OutboundEmail.Content"/>, to fingerprint it for the content rules and hand it to the content inspector.
/// </summary>
public sealed class EmailContent
{
    /// <summary>
    /// Gets the subject. The guarded sender hands it to the transport on one line: each line break (CR LF, CR or LF) and
    /// NUL is written as a space, since a transport that writes headers as text would write what follows a break as
    /// another header.
    /// </summary>
    public string Subject { get; init; } = string.Empty;

    /// <summary>Gets the plain-text body.</summary>
    public string? TextBody { get; init; }

    /// <summary>Gets the HTML body.</summary>
    public string? HtmlBody { get; init; }

    /// <summary>
    /// Gets extra headers for the transport to add. The guarded sender adds <see cref="EmailFeedbackTags.SendIdHeader"/>
    /// to them, an opaque id that ties a message found in a mailbox or a provider's log to its admission, and drops a
    /// header that names one of EmailGuard's tags (such as <c>X-SES-MESSAGE-TAGS: eg_u=...</c>): the provider would echo
    /// it in the message's feedback, charged to the party it names. It also drops the headers that would add recipients
    /// the guard did not count (<c>To</c>, <c>Cc</c>, <c>Bcc</c>, <c>Resent-*</c>, an <c>X-SMTPAPI</c> with a
    /// <c>to</c> list): recipients go in the <see cref="OutboundEmail"/>. So does the sender: <c>From</c>, <c>Sender</c>,
    /// <c>Resent-From</c> and <c>Resent-Sender</c> are dropped, since the guard screened the envelope's. An <c>X-SMTPAPI</c> header with a member named
    /// like a field of SendGrid's events (<c>email</c>, <c>event</c>, <c>sg_event_id</c> ...) is dropped too: SendGrid
    /// echoes unique args beside those fields, where they would rewrite the event. So are <c>X-SES-CONFIGURATION-SET</c>
    /// and <c>X-PM-Message-Stream</c>, which choose where the provider sends the message's feedback: the transport sets them.
    /// A header whose value holds a line break or NUL, or whose name is no header field name (a colon, a control
    /// character or a space in it), is dropped whole: a transport that writes headers as text would write what follows
    /// the break as another header, such as a <c>Bcc</c>, that none of these checks saw.
    /// </summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>
    /// Gets the tags the provider should echo back in its feedback: SES message tags (through a configuration set),
    /// Mailgun <c>v:</c> variables, SendGrid <c>custom_args</c>, Postmark <c>Metadata</c>. The guarded sender adds the
    /// attribution of the admitted message (<see cref="EmailFeedbackTags.Write"/>) to those the app set; names and
    /// values are ASCII letters, digits, <c>_</c> and <c>-</c>, which every provider accepts as they are. An app tag
    /// named like EmailGuard's (<c>eg_…</c>) or like a field of SendGrid's events (<c>email</c>, <c>event</c>,
    /// <c>type</c>, <c>sg_event_id</c>, <c>sg_message_id</c>, <c>smtp-id</c>, <c>timestamp</c>, <c>reason</c>,
    /// <c>bounce_classification</c>, in any case) is dropped:
    /// SendGrid echoes custom args beside its own fields, where such a tag would rewrite the event.
    /// </summary>
    /// <remarks>
    /// Mailgun copies <c>v:</c> variables into an <c>X-Mailgun-Variables</c> header the recipient can read, and the
    /// values are encoded, not encrypted: a transport for Mailgun that must not show tenant and user ids to recipients
    /// sends only <c>eg_id</c> and relies on the message-id mapping (<see cref="IEmailTransport.SendAndGetMessageIdAsync"/>).
    /// Postmark refuses a message whose metadata values are longer than 80 characters: a transport for Postmark sends
    /// <see cref="EmailFeedbackTags.ToPostmarkMetadata"/> of these tags.
    /// </remarks>
    public IReadOnlyDictionary<string, string>? ProviderTags { get; init; }
}
