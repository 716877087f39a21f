using System.Text.RegularExpressions;

namespace EmailGuard;

/// <summary>
/// The message being sent on this async flow by a guarded sender: its attribution, the provider tags and headers that
/// carry it, and a slot for the provider's message id. The guarded senders open it around the transport call (and the
/// Identity sender around the app's <c>IEmailSender</c>), so a transport or an Identity sender reads the tags from
/// <see cref="Current"/> without being handed them, and reports the provider's id by setting
/// <see cref="ProviderMessageId"/>; the guarded sender then maps it with <see cref="IEmailGuardFeedback.TrackAsync"/>.
/// </summary>
public sealed partial class EmailSendContext : IDisposable
{
    private static readonly AsyncLocal<EmailSendContext?> s_current = new();
    private static readonly IReadOnlyDictionary<string, string> s_none = new Dictionary<string, string>();
    private readonly EmailSendContext? _previous;
    private bool _disposed;

    private EmailSendContext(EmailSendAttribution attribution, EmailSendContext? previous)
    {
        Attribution = attribution;
        ProviderTags = EmailFeedbackTags.Write(attribution);
        Headers = attribution.SendId is { } sendId
            ? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { [EmailFeedbackTags.SendIdHeader] = sendId }
            : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        _previous = previous;
    }

    /// <summary>Gets the send in progress on this async flow, or <see langword="null"/> outside a guarded send.</summary>
    public static EmailSendContext? Current => s_current.Value;

    /// <summary>Gets who caused the message.</summary>
    public EmailSendAttribution Attribution { get; }

    /// <summary>Gets the tags to give the provider, as <see cref="EmailContent.ProviderTags"/> has them.</summary>
    public IReadOnlyDictionary<string, string> ProviderTags { get; }

    /// <summary>Gets the headers to add: <see cref="EmailFeedbackTags.SendIdHeader"/>.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Gets or sets the provider's id for the message; the transport sets it once the provider accepted the message.</summary>
    public string? ProviderMessageId { get; set; }

    /// <summary>
    /// Gets or sets the name of the provider that took the message, as its feedback names it
    /// (<see cref="EmailFeedbackEvent.Provider"/>: <c>ses</c>, <c>mailgun</c> …). Set it with the message id, so that
    /// the id is mapped for that provider's feedback only (<see cref="IEmailGuardFeedback.TrackForProviderAsync"/>):
    /// providers choose ids independently, and some take the message's <c>Message-ID</c>, which the app may set, so
    /// without it another provider's event with the same id is attributed to this message.
    /// </summary>
    /// <remarks>
    /// A name is 1 to 32 lower-case ASCII letters, digits, <c>_</c> or <c>-</c>. Another value is not refused here: a
    /// transport may set it once the provider has taken the message, and throwing then would have the guarded sender
    /// give back the permits of a mail that was sent (and the app retry it). Such a value is ignored when the id is
    /// mapped, with warning 2985: the id is mapped for every provider's feedback, as without a name.
    /// </remarks>
    /// <value>The default value is <see langword="null"/>: the id is mapped for every provider's feedback.</value>
    public string? Provider { get; set; }

    /// <summary>
    /// Opens the context of an admitted message on this async flow until it is disposed. The guarded senders call it;
    /// a sender of the app's own that checks with <see cref="IEmailSendGuard"/> can too.
    /// </summary>
    /// <param name="attribution">The admitted message's <see cref="EmailSendDecision.Attribution"/>.</param>
    /// <returns>The context; dispose it when the send is over, to restore the one before.</returns>
    public static EmailSendContext Enter(EmailSendAttribution attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        EmailSendContext context = new(attribution, s_current.Value);
        s_current.Value = context;
        return context;
    }

    /// <summary>Closes the context and restores the one that was current before.</summary>
    public void Dispose()
    {
        if (!_disposed && ReferenceEquals(s_current.Value, this))
        {
            s_current.Value = _previous;
        }

        _disposed = true;
    }

    /// <summary>
    /// The content with this context's tags and headers added to the app's own: the app's win on a clash, but for
    /// EmailGuard's tags and send id header; app tags named like EmailGuard's, and app headers that name one of its tags
    /// (the headers that set provider tags on a raw or SMTP send), are dropped.
    /// </summary>
    internal EmailContent AddTo(EmailContent content) => Compose(content, ProviderTags, Headers);

    /// <summary>
    /// The content with the app's tags and headers screened as <see cref="AddTo"/> screens them, for an admitted message
    /// without an attribution (a guard of the app's own): what the screening keeps out (a header that writes another
    /// header, an app <c>Bcc</c> or <c>From</c>, a subject on two lines) is as uncounted without EmailGuard's tags as with.
    /// </summary>
    internal static EmailContent Screened(EmailContent content) => Compose(content, s_none, s_none);

    private static EmailContent Compose(EmailContent content, IReadOnlyDictionary<string, string> guardTags, IReadOnlyDictionary<string, string> guardHeaders)
    {
        Dictionary<string, string> tags = new(StringComparer.Ordinal);
        if (content.ProviderTags is { } own)
        {
            foreach (KeyValuePair<string, string> tag in own)
            {
                // EmailGuard's tag names are its own: an app tag under one (passed through from a customer, say) would
                // be echoed in the provider's bounces and charge them to whichever party it names, so it is dropped,
                // also where this message has no value of its own for that tag.
                // SendGrid echoes custom args as top-level keys of each event, beside its own fields: an app tag named
                // like one of those (email, event, sg_event_id ...) would rewrite the event itself, its recipient (a victim
                // suppressed), its type (a bounce read as a click) or its id (every bounce deduplicated into one).
                if (!tag.Key.TrimStart().StartsWith(EmailFeedbackTags.Prefix, StringComparison.OrdinalIgnoreCase)
                    && !ProviderEventField().IsMatch(tag.Key))
                {
                    tags[tag.Key] = tag.Value;
                }
            }
        }

        foreach (KeyValuePair<string, string> tag in guardTags)
        {
            tags[tag.Key] = tag.Value;
        }

        Dictionary<string, string> headers = new(StringComparer.OrdinalIgnoreCase);
        if (content.Headers is { } ownHeaders)
        {
            foreach (KeyValuePair<string, string> header in ownHeaders)
            {
                // The same forgery through the headers that set provider tags (X-SES-MESSAGE-TAGS, X-Mailgun-Variables,
                // X-SMTPAPI, X-PM-Metadata-<name>, ...): a header that names one of EmailGuard's tags is dropped whole.
                string unescaped = JsonUnescaped(header.Value);
                if (!WritesMoreThanOneHeader(header.Key, header.Value)
                    && !NamesAttributionTag().IsMatch(header.Key) && !NamesAttributionTag().IsMatch(header.Value)
                    && (ReferenceEquals(unescaped, header.Value) || !NamesAttributionTag().IsMatch(unescaped))
                    && !AddsRecipients(header.Key, unescaped) && !NamesAnotherSender(header.Key) && !RewritesProviderEvents(header.Key, unescaped)
                    && !RoutesFeedback(header.Key))
                {
                    headers[header.Key] = header.Value;
                }
            }
        }

        foreach (KeyValuePair<string, string> header in guardHeaders)
        {
            // Removed first, so that the name is written as EmailGuard spells it, not as an app's copy did.
            headers.Remove(header.Key);
            headers[header.Key] = header.Value;
        }

        return new EmailContent
        {
            Subject = OneLine(content.Subject),
            TextBody = content.TextBody,
            HtmlBody = content.HtmlBody,
            Headers = headers,
            ProviderTags = tags,
        };
    }

    /// <summary>
    /// <paramref name="subject"/> on one line: each line break (CR LF, CR or LF) and NUL written as a space. The subject
    /// is a header, and a customer's subject with a line break in it (a share's title) ends it in a transport that
    /// writes headers as text, which writes the rest as headers of the customer's choosing: a <c>Bcc</c> the header
    /// checks never saw.
    /// </summary>
    private static string OneLine(string subject)
        => subject.AsSpan().ContainsAny('\r', '\n', '\0')
            ? subject.Replace("\r\n", " ", StringComparison.Ordinal).Replace('\r', ' ').Replace('\n', ' ').Replace('\0', ' ')
            : subject;

    /// <summary>
    /// Whether an app header is more than one header: a name that is no field name (empty, or with a colon, a control
    /// character, an inner space or a letter outside ASCII: <c>Bcc:</c> is written <c>Bcc:: ...</c>, which lenient readers
    /// take for a Bcc header), or a value with a line break or NUL. A transport that writes headers as text (a raw MIME
    /// message for SES's raw send, an SMTP client of the app's own) ends the header at the break and writes what follows
    /// as a header of the customer's choosing, which every check here, reading the header's own name, let through:
    /// <c>X-Campaign: spring\r\nBcc: ...</c> would mail a thousand recipients the guard never counted. A long value needs no
    /// folding from the app: the transport folds it.
    /// </summary>
    private static bool WritesMoreThanOneHeader(string name, string value)
    {
        ReadOnlySpan<char> field = name.AsSpan().Trim(' ');
        return field.IsEmpty || field.ContainsAnyExceptInRange('!', '~') || field.Contains(':') || value.AsSpan().ContainsAny('\r', '\n', '\0');
    }

    /// <summary>
    /// Whether an app header would make the provider mail someone the envelope does not name: the guard counted the
    /// envelope's recipients only. An SMTP client (MailKit) and SES's raw send take the recipients from the To, Cc, Bcc
    /// and Resent-* headers; SendGrid's SMTP API sends to every address of <c>X-SMTPAPI</c>'s <c>to</c>. The envelope
    /// (<see cref="OutboundEmail.To"/>, <see cref="OutboundEmail.Cc"/>, <see cref="OutboundEmail.Bcc"/>) is where recipients go.
    /// </summary>
    /// <param name="name">The header's name.</param>
    /// <param name="unescaped">The header's value with its JSON escapes decoded (<see cref="JsonUnescaped"/>).</param>
    private static bool AddsRecipients(string name, string unescaped)
    {
        name = name.Trim();
        return name.ToUpperInvariant() is "TO" or "CC" or "BCC" or "RESENT-TO" or "RESENT-CC" or "RESENT-BCC"
               || (name.Equals("X-SMTPAPI", StringComparison.OrdinalIgnoreCase) && SmtpApiRecipients().IsMatch(unescaped));
    }

    /// <summary>
    /// Whether an app header names the message's sender (<c>From</c>, <c>Sender</c>, <c>Resent-From</c>,
    /// <c>Resent-Sender</c>), which an SMTP client (MailKit) and SES's raw send write as the message's own: the guard
    /// screened and counted the envelope's <see cref="OutboundEmail.Sender"/> (its blocklist entry, flags, caps and ratio
    /// breaker), so a customer naming another From sent as a sender the operator had blocklisted. The envelope is where
    /// the sender goes.
    /// </summary>
    private static bool NamesAnotherSender(string name)
        => name.Trim().ToUpperInvariant() is "FROM" or "SENDER" or "RESENT-FROM" or "RESENT-SENDER";

    /// <summary>
    /// Whether an app header chooses where the provider sends the message's feedback: SES's configuration set (its event
    /// destinations, and the only way message tags reach an event) and Postmark's message stream (its webhooks). A
    /// customer naming a set or stream without EmailGuard's webhook keeps every bounce and complaint of its mail from
    /// the breakers, while the account's rate at the provider climbs. The transport chooses them, not the app's headers.
    /// </summary>
    private static bool RoutesFeedback(string name)
        => name.Trim().ToUpperInvariant() is "X-SES-CONFIGURATION-SET" or "X-PM-MESSAGE-STREAM";

    /// <summary>
    /// Whether an app header sets SendGrid unique args named like the fields of SendGrid's own events
    /// (<c>X-SMTPAPI: {"unique_args": {"email": ...}}</c>): SendGrid echoes them as top-level keys of each event, as it
    /// does custom args, so they would rewrite the event's recipient, type or id. The filters that name an address
    /// (<c>bcc</c>, <c>forwardspam</c>) match too, and add a recipient the guard did not count.
    /// </summary>
    private static bool RewritesProviderEvents(string name, string unescaped)
        => name.Trim().Equals("X-SMTPAPI", StringComparison.OrdinalIgnoreCase) && SmtpApiEventField().IsMatch(unescaped);

    /// <summary>
    /// The fields of a SendGrid event that the webhook reads beside the echoed custom args, in any case and with
    /// surrounding spaces: a provider tag of one of these names is never passed on.
    /// </summary>
    [GeneratedRegex(@"^\s*(?:" + ProviderEventFields + @")\s*$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ProviderEventField();

    /// <summary>A JSON member named like one of <see cref="ProviderEventFields"/>, in any case.</summary>
    [GeneratedRegex(@"""\s*(?:" + ProviderEventFields + @")\s*""\s*:", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SmtpApiEventField();

    /// <summary>
    /// SendGrid's event fields that the webhook reads (recipient, type, bounce type, ids, time, a drop's reason, a
    /// bounce's classification, which says whether it suppresses its recipient).
    /// </summary>
    private const string ProviderEventFields = "email|event|type|sg_event_id|sg_message_id|smtp-id|timestamp|reason|bounce_classification";

    /// <summary>
    /// <paramref name="value"/> with its JSON <c>\uXXXX</c> escapes decoded: the JSON headers (Mailgun's variables,
    /// SendGrid's X-SMTPAPI) are parsed by the provider, which reads <c>"\u0065g_u"</c> as <c>eg_u</c>. An escaped
    /// backslash before a <c>u</c> is decoded too, which can only drop a header that names no tag, never keep one that does.
    /// </summary>
    private static string JsonUnescaped(string value)
    {
        int at = value.IndexOf("\\u", StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return value;
        }

        System.Text.StringBuilder decoded = new(value.Length);
        decoded.Append(value, 0, at);
        for (int i = at; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 5 < value.Length && (value[i + 1] is 'u' or 'U')
                && ushort.TryParse(value.AsSpan(i + 2, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out ushort code))
            {
                decoded.Append((char)code);
                i += 5;
            }
            else
            {
                decoded.Append(value[i]);
            }
        }

        return decoded.ToString();
    }

    /// <summary>One of EmailGuard's tag names (<c>eg_id</c>, <c>eg_t</c>, ...) as a token of its own, in any case.</summary>
    [GeneratedRegex(@"(?<![A-Za-z0-9_])" + EmailFeedbackTags.Prefix + "(?:" + EmailFeedbackTags.NamesPattern + @")(?![A-Za-z0-9_])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NamesAttributionTag();

    /// <summary>A JSON member named <c>to</c>, in any case: the recipients of a SendGrid SMTP API header.</summary>
    [GeneratedRegex(@"""to""\s*:", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SmtpApiRecipients();
}
