namespace EmailGuard;

/// <summary>
/// Writes an attribution as provider tags and reads it back. The names and values use only ASCII letters, digits,
/// <c>_</c> and <c>-</c>, the set that SES message tags, Mailgun variables, SendGrid custom args and Postmark metadata
/// all accept; values are base64url. Postmark takes shorter metadata values than the others (80 characters): give it
/// <see cref="ToPostmarkMetadata"/>.
/// </summary>
public static class EmailFeedbackTags
{
    /// <summary>The prefix of every tag name EmailGuard writes.</summary>
    public const string Prefix = "eg_";

    /// <summary>The tag that carries <see cref="EmailSendAttribution.SendId"/>.</summary>
    public const string SendIdTag = Prefix + "id";

    /// <summary>
    /// The tag that carries the signature of the others, when <see cref="EmailFeedbackOptions.TagSigningKeys"/> lists keys:
    /// 22 characters of base64url, 128 bits of an HMAC-SHA256 over every attribution tag present.
    /// </summary>
    public const string SignatureTag = Prefix + "sig";

    /// <summary>
    /// The names after <see cref="Prefix"/> of every tag <see cref="Write"/> writes, as a regular-expression
    /// alternation: where a sender recognizes EmailGuard's tags in an app's headers, it matches these.
    /// </summary>
    internal const string NamesPattern = "id|t|u|s|s2|c|n|p|tp|sig";

    /// <summary>The header the guarded senders add with <see cref="EmailSendAttribution.SendId"/>: an opaque id, nothing else.</summary>
    public const string SendIdHeader = "X-EmailGuard-Send-Id";

    /// <summary>
    /// The tags that carry <paramref name="attribution"/>. A value whose tag would be longer than 256 characters (an
    /// id of more than 192 UTF-8 bytes) is left out: <see cref="TryRead"/> refuses such a tag, which would make the
    /// whole attribution unreadable and the feedback reach none of the parties, and SES refuses tag values that long.
    /// The sender is the exception: a valid address is up to 254 characters, so one longer than 192 goes on in a
    /// second tag (<c>eg_s2</c>), and its bounces and complaints reach the same sender the guard counted its sends under.
    /// The attribution of an admitted message (<see cref="EmailSendDecision.Attribution"/>) is signed when
    /// <see cref="EmailFeedbackOptions.TagSigningKeys"/> lists keys: its tags then carry <see cref="SignatureTag"/> too.
    /// An attribution the app builds itself is not signed, and with keys listed its feedback is charged by the message-id
    /// mapping alone: keep the decision's attribution (with a queued mail, say) rather than building one again.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Write(EmailSendAttribution attribution)
    {
        ArgumentNullException.ThrowIfNull(attribution);
        return Compose(attribution, attribution.TagSigner);
    }

    /// <summary>The tags of <paramref name="attribution"/>, signed by <paramref name="signer"/> when there is one.</summary>
    internal static Dictionary<string, string> Compose(EmailSendAttribution attribution, FeedbackTagSigner? signer)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        Add(tags, "id", attribution.SendId);
        Add(tags, "t", attribution.TenantId);
        Add(tags, "tp", attribution.TenantPool);
        Add(tags, "u", attribution.UserId);
        AddSender(tags, attribution.Sender);
        Add(tags, "c", attribution.Category);
        Add(tags, "n", attribution.ClientNetwork);
        Add(tags, "p", attribution.EndpointPolicy);
        if (signer is not null && tags.Count > 0)
        {
            tags[SignatureTag] = signer.Sign(tags);
        }

        return tags;
    }

    /// <summary>
    /// The tags to send as a Postmark message's <c>Metadata</c> (or its <c>X-PM-Metadata-</c> headers): <paramref name="tags"/>,
    /// such as <see cref="EmailContent.ProviderTags"/>, with EmailGuard's made to fit Postmark. Postmark refuses a whole
    /// message whose metadata has a field name longer than 20 characters or a value longer than 80, and takes at most 10
    /// fields. EmailGuard's names are at most 6 characters, and it writes at most 8 tags whose values all fit (7 for a tenant in no pool),
    /// and one more when it signs them (<see cref="SignatureTag"/>). When one
    /// of its values is longer than 80 characters (an id or a sender of more than 60 UTF-8 bytes), or the app's own tags
    /// and EmailGuard's together are more than 10, only
    /// <see cref="SendIdTag"/> is kept of EmailGuard's tags, and the feedback is attributed by the message-id mapping
    /// instead: the transport sets <see cref="EmailSendContext.Provider"/> to <c>postmark</c> and returns Postmark's
    /// <c>MessageID</c> (<see cref="IEmailTransport.SendAndGetMessageIdAsync"/>). Leaving out only the long value would
    /// not do: the rest, echoed, would be taken for the whole attribution, and the party left out never charged.
    /// </summary>
    /// <param name="tags">The message's tags; those not named with <see cref="Prefix"/> (the app's own) are passed as they are: keep them to Postmark's limits, and to 9 of them (with more than 3, or more than 2 for a tenant in a pool, each one fewer when EmailGuard's are signed, only <see cref="SendIdTag"/> of EmailGuard's is kept).</param>
    /// <returns>The metadata to send.</returns>
    public static IReadOnlyDictionary<string, string> ToPostmarkMetadata(IReadOnlyDictionary<string, string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        // The app's own tags count against Postmark's 10 fields too: with more than 3 of them (2 with a pool), all of EmailGuard's would
        // make the message one Postmark refuses whole, so only the send id goes, and the message-id mapping attributes.
        bool fits = tags.All(static tag => !IsOwn(tag.Key) || tag.Value.Length <= PostmarkMaxValueLength)
            && tags.Count <= PostmarkMaxFields;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, string> tag in tags)
        {
            if (fits || !IsOwn(tag.Key) || (tag.Key == SendIdTag && tag.Value.Length <= PostmarkMaxValueLength))
            {
                metadata[tag.Key] = tag.Value;
            }
        }

        return metadata;
    }

    /// <summary>
    /// Reads an attribution from echoed tags; false when none of EmailGuard's tags are present or one is malformed. It
    /// does not check <see cref="SignatureTag"/>: give the tags to the recorder as <see cref="EmailFeedbackEvent.Tags"/>,
    /// which checks it when <see cref="EmailFeedbackOptions.TagSigningKeys"/> lists keys.
    /// </summary>
    public static bool TryRead(IReadOnlyDictionary<string, string>? tags, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EmailSendAttribution? attribution)
    {
        attribution = null;
        if (tags is null)
        {
            return false;
        }

        bool any = false;
        bool ok = true;
        string? Read(string name)
        {
            if (!tags.TryGetValue(Prefix + name, out string? value))
            {
                return null;
            }

            any = true;
            string? decoded = Decode(value);
            ok &= decoded is not null;
            return decoded;
        }

        string? ReadSender()
        {
            bool head = tags.TryGetValue(Prefix + "s", out string? first);
            if (!tags.TryGetValue(Prefix + "s2", out string? rest))
            {
                return head ? Read("s") : null;
            }

            // The second part only ever continues a first part of full length, as AddSender splits.
            any = true;
            string? decoded = head && first is { Length: MaxValueLength } && rest is { Length: > 0 and <= MaxValueLength }
                ? Decode(first + rest, 2 * MaxValueLength)
                : null;
            ok &= decoded is not null;
            return decoded;
        }

        var result = new EmailSendAttribution
        {
            SendId = Read("id"),
            TenantId = Read("t"),
            TenantPool = Read("tp"),
            UserId = Read("u"),
            Sender = ReadSender(),
            Category = Read("c"),
            ClientNetwork = Read("n"),
            EndpointPolicy = Read("p"),
        };
        if (!any || !ok)
        {
            return false;
        }

        attribution = result;
        return true;
    }

    private static void Add(Dictionary<string, string> tags, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value) && Encode(value) is { Length: <= MaxValueLength } encoded)
        {
            tags[Prefix + name] = encoded;
        }
    }

    /// <summary>
    /// The sender in one tag, or split over two: a sender left out would leave its bounces and complaints charged to
    /// every party but the sender, whose ratio breaker a long address would then evade. The first part is a whole number
    /// of base64 quanta (256 characters, 192 bytes), so the two parts read back as one value.
    /// </summary>
    private static void AddSender(Dictionary<string, string> tags, string? sender)
    {
        if (string.IsNullOrEmpty(sender))
        {
            return;
        }

        string encoded = Encode(sender);
        if (encoded.Length <= MaxValueLength)
        {
            tags[Prefix + "s"] = encoded;
        }
        else if (encoded.Length <= 2 * MaxValueLength)
        {
            tags[Prefix + "s"] = encoded[..MaxValueLength];
            tags[Prefix + "s2"] = encoded[MaxValueLength..];
        }
    }

    /// <summary>The longest encoded tag value read back; a longer one makes the attribution unreadable.</summary>
    internal const int MaxValueLength = 256;

    /// <summary>
    /// Postmark's limits on a message's metadata: its API refuses the message (HTTP 422, "Field names are limited to 20
    /// characters and field values are limited to 80 characters in length"). See docs/feedback.md for the sources.
    /// </summary>
    internal const int PostmarkMaxNameLength = 20;

    /// <inheritdoc cref="PostmarkMaxNameLength"/>
    internal const int PostmarkMaxValueLength = 80;

    /// <inheritdoc cref="PostmarkMaxNameLength"/>
    internal const int PostmarkMaxFields = 10;

    private static bool IsOwn(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);

    private static string Encode(string value)
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(value);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    private static string? Decode(string? value, int maxLength = MaxValueLength)
    {
        // Null only in a dictionary an app built (tags are never null in a provider's JSON): unreadable, as an empty value.
        if (string.IsNullOrEmpty(value) || value.Length > maxLength)
        {
            return null;
        }

        string base64 = value.Replace('-', '+').Replace('_', '/');
        base64 += (base64.Length % 4) switch { 2 => "==", 3 => "=", 0 => string.Empty, _ => "!" };
        Span<byte> buffer = stackalloc byte[2 * MaxValueLength];
        if (!Convert.TryFromBase64String(base64, buffer, out int written))
        {
            return null;
        }

        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(buffer[..written]);
        }
        catch (System.Text.DecoderFallbackException)
        {
            return null;
        }
    }
}
