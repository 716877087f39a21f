using System.Net;

namespace EmailGuard;

/// <summary>
/// The store keys of feedback. All start with <c>fb:</c> so they never share a counter with the send guard
/// (<c>send:</c>) or the endpoint policies; addresses, event ids and message ids are hashed.
/// </summary>
internal static class FeedbackKeys
{
    public const string EventPrefix = "fb:e:";
    public const string MessagePrefix = "fb:m:";
    public const string TransientPrefix = "fb:tr:";
    public const string RefusalPrefix = "fb:rm:";

    /// <summary>The counted kinds, in the order <see cref="EmailFeedbackCounts"/> lists them.</summary>
    public static readonly char[] Kinds = ['d', 'b', 's', 'c', 'u', 'x'];

    /// <summary>The letter of the sends counter, counted at admission.</summary>
    public const char Sends = 'x';

    /// <summary>
    /// The letter of the not-sent counter: mail the guard counted as a send and the provider reported it never sent
    /// (<see cref="EmailFeedbackEvent.SuppressedByProvider"/>), counted in that event's own acquire, on the send counter's
    /// window, and subtracted from the sends where the ratios are read. Not one of <see cref="Kinds"/>: it is no feedback
    /// the counts report, only an offset of their sends.
    /// </summary>
    public const char NotSent = 'n';

    /// <summary>The mark that an event's suppression is on the blocklist (see <c>EmailGuardFeedback.CompleteSuppressionAsync</c>).</summary>
    public static string Suppressed(string provider, string providerEventId) => "fb:sx:" + provider + ":" + StoreKeyEncoding.Hash(providerEventId);

    public static string Event(string provider, string providerEventId) => EventPrefix + provider + ":" + StoreKeyEncoding.Hash(providerEventId);

    /// <summary>
    /// The key of a message id's attribution for one provider's feedback: providers choose their ids independently, and
    /// some take them from the message's own <c>Message-ID</c>, which the app (or its customer) may set, so one id can
    /// name sends of different providers.
    /// </summary>
    public static string Message(string provider, string providerMessageId) => MessagePrefix + provider + ":" + StoreKeyEncoding.Hash(Canonical(providerMessageId));

    /// <summary>
    /// The key of a message id's attribution for any provider: how every mapping was written before the mapping named the
    /// provider, and how it still is when the transport names none.
    /// </summary>
    public static string Message(string providerMessageId) => MessagePrefix + StoreKeyEncoding.Hash(Canonical(providerMessageId));

    /// <summary>
    /// A message id in the one form its send and its feedback share, so an id tracked as the send answered it is found by
    /// the feedback that names it otherwise:
    /// <list type="bullet">
    /// <item>without the angle brackets a <c>Message-ID</c> header writes around it: Mailgun's send API answers
    /// <c>&lt;20260302.1@mg.example.com&gt;</c>, and its events name the same message <c>20260302.1@mg.example.com</c>;</item>
    /// <item>without the <c>Ok </c> of an SMTP reply: SES's SMTP interface answers <c>250 Ok 0102…-000000</c>, and a
    /// transport may keep the reply's text after the code;</item>
    /// <item>SES's own id, not the <c>Message-ID</c> SES writes from it (<c>&lt;0102…-000000@eu-west-1.amazonses.com&gt;</c>,
    /// or <c>@email.amazonses.com</c>): SES events name the message by that id alone (<c>mail.messageId</c>). Only SES
    /// writes ids at <c>amazonses.com</c>, so this holds whichever provider the transport named.</item>
    /// </list>
    /// An id in none of these forms is kept as it is.
    /// </summary>
    internal static string Canonical(string providerMessageId)
    {
        ReadOnlySpan<char> id = providerMessageId.AsSpan();
        if (id.Length > 3 && id.StartsWith("Ok ", StringComparison.OrdinalIgnoreCase))
        {
            id = id[3..].TrimStart(' ');
        }

        if (id.Length > 2 && id[0] == '<' && id[^1] == '>')
        {
            id = id[1..^1];
        }

        int at = id.LastIndexOf('@');
        if (at > 0 && (id[(at + 1)..].EndsWith(".amazonses.com", StringComparison.OrdinalIgnoreCase)
                       || id[(at + 1)..].Equals("amazonses.com", StringComparison.OrdinalIgnoreCase)))
        {
            id = id[..at];
        }

        return id.Length == providerMessageId.Length ? providerMessageId : id.ToString();
    }

    /// <summary>
    /// The mark that a refusal of one message (<see cref="EmailFeedbackEvent.RejectedForMessage"/>) to one recipient was
    /// counted: a provider posts it again for every delivery attempt it retries, each with an event id of its own.
    /// </summary>
    /// <param name="provider">The provider.</param>
    /// <param name="providerMessageId">The message id, in any of the forms <see cref="Canonical"/> reads as one.</param>
    /// <param name="sendId">
    /// The send id the event's own tags carry (<see cref="EmailFeedbackTags.SendIdTag"/>), if any: Mailgun takes the
    /// message's <c>Message-ID</c> for its id, which a customer whose headers the app passes through can set, and mails
    /// that share one are told apart by it. A provider's retries of one mail echo its tags, so they share it too. Not the
    /// mapping's: that is the last send tracked under the id, the same for all of them.
    /// </param>
    /// <param name="writtenRecipient">
    /// The recipient as the event writes it, not as the limits fold it: a message to several spellings of one mailbox
    /// (<c>victim+1@x</c>, <c>v.ictim@gmail.com</c>) is one mail per spelling to the provider, counted as one send each
    /// (<c>GuardBuffers.AddDelivery</c>), and each refused mail is one bounce. Only its case is folded, as the sends'
    /// count folds it.
    /// </param>
    public static string Refusal(string provider, string providerMessageId, string? sendId, string writtenRecipient)
        => RefusalPrefix + provider + ":"
           + StoreKeyEncoding.Hash(Canonical(providerMessageId) + " " + sendId + " " + MailOf(writtenRecipient));

    /// <summary>
    /// A recipient as written, folded as far as the provider and the refusal key (<see cref="Refusal"/>) tell mails
    /// apart: surrounding space and case. Two spellings with one fold are one mail (<c>GuardBuffers.AddDelivery</c>).
    /// Returns <paramref name="written"/> itself when there is nothing to fold.
    /// </summary>
    /// <param name="written">The recipient as written.</param>
    public static string MailOf(string written) => written.Trim().ToLowerInvariant();

    /// <summary>
    /// The key under which builds before the per-mail key of <see cref="Refusal"/> marked a refusal counted: provider,
    /// message id and the recipient as the limits fold it. During a rolling upgrade those builds still write it, and a
    /// provider's retry of the same refusal may land on either build (see <c>EmailGuardFeedback.RecordAsync</c>).
    /// </summary>
    /// <param name="provider">The provider.</param>
    /// <param name="providerMessageId">The message id, in any of the forms <see cref="Canonical"/> reads as one.</param>
    /// <param name="foldedRecipient">The recipient as the limits fold it.</param>
    public static string LegacyRefusal(string provider, string providerMessageId, string foldedRecipient)
        => RefusalPrefix + provider + ":" + StoreKeyEncoding.Hash(Canonical(providerMessageId) + " " + foldedRecipient);

    public static string Transient(string recipient) => TransientPrefix + StoreKeyEncoding.Hash(recipient);

    /// <summary>
    /// The letter of the counter an event goes to. A refusal of the message counts against its sender as a bounce, whatever
    /// the provider calls it: a tenant whose every mail spam filters refuse, even "temporarily", is the rogue the breakers
    /// are for, and as soft bounces (counted for the address alone) its refusals tripped nothing.
    /// </summary>
    public static char KindOf(EmailFeedbackEvent feedback) => feedback.Kind switch
    {
        EmailFeedbackKind.Delivered => 'd',
        EmailFeedbackKind.Bounced => feedback.BounceType == EmailBounceType.Permanent || feedback.RejectedForMessage ? 'b' : 's',
        EmailFeedbackKind.Complained => 'c',
        _ => 'u',
    };

    /// <summary>
    /// The feedback counters' own dimension of a tenant pool (<see cref="EmailSendAttribution.TenantPool"/>), never a
    /// public one: the guard counts a pool under the tenant dimension as the partition <c>pool:&lt;name&gt;</c>, and
    /// its counts read so (<see cref="EmailGuardFeedback"/> reports them as that tenant partition), but its counters have keys of
    /// their own, so no tenant whose id is <c>pool:trial</c> shares the trial pool's ratios.
    /// </summary>
    public const EmailGuardDimension TenantPool = (EmailGuardDimension)(1 << 30);

    /// <summary>The counter key of one kind for one party, the partition already in canonical form.</summary>
    public static string Count(char kind, EmailGuardDimension dimension, string? partition) => dimension switch
    {
        EmailGuardDimension.Global => $"fb:{kind}:g",
        EmailGuardDimension.Tenant => PartitionKeys.ForId($"fb:{kind}:t:", partition!),
        TenantPool => PartitionKeys.ForId($"fb:{kind}:tp:", partition!),
        EmailGuardDimension.User => PartitionKeys.ForId($"fb:{kind}:u:", partition!),
        EmailGuardDimension.Sender => $"fb:{kind}:s:" + StoreKeyEncoding.Hash(partition!),
        EmailGuardDimension.Category => PartitionKeys.ForId($"fb:{kind}:c:", partition!),
        _ => PartitionKeys.ForId($"fb:{kind}:n:", partition!),
    };

    /// <summary>
    /// A client network in canonical CIDR form (<c>203.0.113.7/32</c>, <c>2001:db8::/64</c>): a CIDR is re-masked to its
    /// own prefix, a bare address is grouped as the guard groups it. Null when the text is neither.
    /// </summary>
    public static string? Network(string? text, int ipv4PrefixLength, int ipv6PrefixLength)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64)
        {
            return null;
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return IPAddress.TryParse(text, out IPAddress? address) ? Cidr(address, ipv4PrefixLength, ipv6PrefixLength) : null;
        }

        if (!IPAddress.TryParse(text.AsSpan(0, slash), out IPAddress? network)
            || !int.TryParse(text.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix))
        {
            return null;
        }

        if (network.IsIPv4MappedToIPv6)
        {
            network = network.MapToIPv4();
        }

        bool v4 = network.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        if (prefix < 1 || prefix > (v4 ? 32 : 128))
        {
            return null;
        }

        if (!v4 && IpAddressGrouping.TryGetCarriedIPv4Network(network, prefix, out IPAddress? carried, out int carriedPrefix))
        {
            // NAT64, 6to4 and Teredo clients are counted as the IPv4 client they carry: a network of them in its IPv6
            // form is that IPv4 network, and one that names a single IPv4 host is that client, grouped as the guard groups it.
            // The carried network comes masked to its prefix, as a CIDR written in IPv4 is.
            return carriedPrefix == 32
                ? Cidr(carried, ipv4PrefixLength, ipv6PrefixLength)
                : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{carried}/{carriedPrefix}");
        }

        if (!v4 && !ReferenceEquals(IpAddressGrouping.UnwrapIPv4(network), network))
        {
            // Wider than any IPv4 network (2002::/16): no client is counted under it, as under any IPv6 network its
            // clients are not counted by. Named as written, not as the address its zero bits would carry.
            return IpAddressGrouping.NormalizeNetwork(text);
        }

        string partition = IpAddressGrouping.GetPartition(network, v4 ? 64 : prefix, v4 ? prefix : 32);
        return partition.Contains('/', StringComparison.Ordinal) ? partition : partition + (v4 ? "/32" : "/128");
    }

    /// <summary>The network of a client address in CIDR notation, grouped with the guard's prefix lengths.</summary>
    public static string Cidr(IPAddress address, int ipv4PrefixLength, int ipv6PrefixLength)
    {
        string partition = IpAddressGrouping.GetPartition(address, ipv6PrefixLength: ipv6PrefixLength, ipv4PrefixLength: ipv4PrefixLength);
        return Cidr(partition);
    }

    /// <summary>Completes a guard partition (<c>203.0.113.7</c>, <c>2001:db8::/64</c>) to CIDR notation.</summary>
    public static string Cidr(string partition)
        => partition.Contains('/', StringComparison.Ordinal)
            ? partition
            : partition + (partition.Contains(':', StringComparison.Ordinal) ? "/128" : "/32");

    /// <summary>
    /// An attribution as one line of tags (<c>eg_t=…&amp;eg_u=…</c>), for the message-id mapping. Ids are not bounded (a
    /// long tenant id is hashed in counter keys), tags are: <see cref="EmailFeedbackTags.Write"/> leaves out a tag longer
    /// than it reads back, so the feedback reaches the parties that fit, and splits a long sender over two. The line is
    /// then at most 9 tags of 256 characters, within the key-value store's 4,096.
    /// </summary>
    /// <param name="attribution">The send's parties.</param>
    /// <param name="trackedAt">
    /// When the send was tracked, written as <c>sent=</c> and whole Unix seconds, rounded up (on the side of a later send,
    /// which a half-open probe counts). The name is no tag (tags start with <c>eg_</c>, values are base64url, so no value
    /// can spell it), and builds before it read past it: their <see cref="Deserialize"/> takes only the tags.
    /// </param>
    public static string Serialize(EmailSendAttribution attribution, DateTimeOffset? trackedAt = null)
    {
        // Unsigned: the store is the guard's own, and a mapping is read back without a signature check.
        string tags = string.Join('&', EmailFeedbackTags.Compose(attribution, signer: null).Select(static pair => pair.Key + "=" + pair.Value));
        if (trackedAt is not { } at)
        {
            return tags;
        }

        long seconds = (at.ToUnixTimeMilliseconds() + 999) / 1000;
        return tags + "&" + SentAtName + "=" + seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private const string SentAtName = "sent";

    /// <summary>
    /// When a mapping's send was tracked (<see cref="Serialize"/>); null for a mapping written by a build before the time
    /// was recorded, for <see cref="Shared"/>, and for anything that does not read as a time.
    /// </summary>
    public static DateTimeOffset? TrackedAt(string? mapping)
    {
        if (string.IsNullOrEmpty(mapping))
        {
            return null;
        }

        foreach (string pair in mapping.Split('&'))
        {
            if (pair.Length > SentAtName.Length + 1 && pair.StartsWith(SentAtName + "=", StringComparison.Ordinal)
                && long.TryParse(pair.AsSpan(SentAtName.Length + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seconds)
                && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds())
            {
                return DateTimeOffset.FromUnixTimeSeconds(seconds);
            }
        }

        return null;
    }

    /// <summary>
    /// The mapping of a message id tracked for sends of different parties: no attribution (it has no tag), so feedback
    /// naming the id is charged by the tags it carries, and the provider-less mapping is not read in its place.
    /// </summary>
    public const string Shared = "shared";

    public static EmailSendAttribution? Deserialize(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        Dictionary<string, string> tags = new(StringComparer.Ordinal);
        foreach (string pair in value.Split('&'))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                tags[pair[..equals]] = pair[(equals + 1)..];
            }
        }

        return EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? attribution) ? attribution : null;
    }
}
