using System.Buffers.Text;
using System.Security.Cryptography;

namespace EmailGuard;

/// <summary>What the send guard does for feedback: attribution of admitted messages (unsubscribes are screened by <see cref="PartyScreen"/>).</summary>
internal sealed partial class EmailSendGuard
{
    /// <summary>Where admitted messages are counted for the ratio breakers; null without feedback.</summary>
    internal EmailGuardFeedback? Sends { get; init; }

    /// <summary>The attribution of an admitted message, counted as a send of each of its parties.</summary>
    private EmailSendAttribution Admitted(OutboundEmail message)
    {
        EmailSendAttribution attribution = Attribute(message);
        Sends?.CountSend(attribution);
        return attribution;
    }

    /// <summary>Who caused an admitted message, with a fresh send id; the network grouped as the client IP dimension groups it.</summary>
    private EmailSendAttribution Attribute(OutboundEmail message)
    {
        // 96 random bits: unique across instances without coordination, and 16 characters as base64url.
        Span<byte> random = stackalloc byte[12];
        RandomNumberGenerator.Fill(random);
        return new EmailSendAttribution
        {
            SendId = Base64Url.EncodeToString(random),
            TenantId = message.TenantId,
            UserId = message.UserId,
            Sender = message.Sender is { } sender && _keys.Addresses.Get(sender) is { IsValid: true } address ? address.Address : null,
            Category = message.Category,
            ClientNetwork = message.ClientIp is { } ip ? FeedbackKeys.Cidr(_keys.ClientIps.Get(ip).Partition) : null,
            EndpointPolicy = message.EndpointPolicy,
        };
    }
}
