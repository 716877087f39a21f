using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace EmailGuard;

/// <summary>What the send guard does for feedback: attribution of admitted messages (unsubscribes are screened by <see cref="PartyScreen"/>).</summary>
internal sealed partial class EmailSendGuard
{
    /// <summary>Send ids drawn from the system's generator per block, so a check does not pay for a call into it.</summary>
    private const int SendIdsPerBlock = 256;

    [ThreadStatic]
    private static byte[]? t_sendIds;

    [ThreadStatic]
    private static int t_nextSendId;

    /// <summary>Where admitted messages are counted for the ratio breakers; null without feedback.</summary>
    internal EmailGuardFeedback? Sends { get; init; }

    /// <summary>Signs the tags of admitted messages' attributions; null unless <see cref="EmailFeedbackOptions.TagSigningKeys"/> lists keys.</summary>
    internal FeedbackTagSigner? TagSigner { get; init; }

    /// <summary>
    /// The attribution of an admitted message as the decision keeps it: built when first read. The ratio breakers'
    /// send counters were taken in the admission's own store call (<paramref name="sendCounts"/> of them), else the
    /// send is counted now. Those taken in the store call are given back when the decision is refunded: a refunded
    /// check (the provider refused the mail, the content inspector rejected it) or a cancelled reservation sent
    /// nothing, and a send counted for it would dilute its parties' ratios for free. Every one of these counts for
    /// <paramref name="pool"/>, the pool the check decided with, as the attribution its bounces come back by names it.
    /// </summary>
    /// <param name="message">The admitted message.</param>
    /// <param name="sendCounts">How many send counters the admission's store call took.</param>
    /// <param name="pool">The tenant pool the check decided with, or null.</param>
    private (EmailSendAttribution? Attribution, PendingAttribution Pending) AdmittedLazily(OutboundEmail message, int sendCounts, TenantPool? pool)
    {
        if (Sends is { } sends && sendCounts == 0)
        {
            // Counted on its own (an unguarded admission, or a plan too large to carry the counters), by the same keys
            // as in the guard's own store call, without building the attribution: it stays lazy, and the call allocates nothing.
            string? sender = message.Sender is { } raw && _keys.Addresses.Get(raw) is { IsValid: true } address ? address.Address : null;
            string? clientPartition = message.ClientIp is { } ip ? _keys.ClientIps.Get(ip).Partition : null;
            sends.CountSend(message, pool?.Name, sender, clientPartition, Deliveries(message));
        }

        (ulong high, uint low) = NextSendId();
        return (null, new PendingAttribution(this, message, high, low, sendCounts, pool));
    }

    /// <summary>
    /// Writes the send counters a refunded check's or reservation's store call took, so that the refund gives them back
    /// with the rest: a message that was not sent does not count in the ratios' denominator. The same keys, in the period of the
    /// decision's time; the half-open probes only while the flags name the same ones (counts are best effort: a probe
    /// left counted only makes its ratio more cautious).
    /// </summary>
    /// <returns>How many were written: none when the decision took none.</returns>
    private int WriteRefundedSendCounts(EmailSendDecision decision, Span<RateLimitRequest> into)
    {
        PendingAttribution pending = decision.PendingAttribution;
        if (Sends is not { } sends || pending.SendCounts == 0 || pending.Message is not { } message)
        {
            return 0;
        }

        string? sender = message.Sender is { } raw && _keys.Addresses.Get(raw) is { IsValid: true } address ? address.Address : null;
        string? clientPartition = message.ClientIp is { } ip ? _keys.ClientIps.Get(ip).Partition : null;
        DateTimeOffset countedAt = decision.Acquisition.DecidedAt;
        long recipients = Deliveries(message);
        string? pool = PoolName(pending.PoolNumber);
        int count = sends.WriteSendCounts(message, pool, sender, clientPartition, recipients, into, countedAt, probes: true);
        return count == pending.SendCounts ? count : sends.WriteSendCounts(message, pool, sender, clientPartition, recipients, into, countedAt, probes: false);
    }

    /// <summary>The name (lower case) of the pool a decision keeps as <see cref="PendingAttribution.PoolNumber"/>, or null for none.</summary>
    /// <remarks>A reload changes a pool's rules, never which pools there are or their order, so any caps name the same pool.</remarks>
    internal string? PoolName(int number) => number == 0 ? null : _caps.Pools.At(number - 1).Name;

    /// <summary>
    /// The mails the provider delivers for an admitted message, as the check counted them against the caps: one per
    /// distinct recipient, and one more for each other way the message writes it (<c>v+1@x</c>, <c>v+2@x</c>; the same
    /// address in another case is no other mail). They are its sends in the ratios, since bounces and complaints come back
    /// one per mail, and providers rate them per mail. Only for the rare paths that count or give back a send outside
    /// the check's own store call.
    /// </summary>
    private long Deliveries(OutboundEmail message)
    {
        if (message.RecipientCount <= 1)
        {
            // The usual message, counted without a set: an unguarded admission (a store outage) stays allocation-free.
            return 1;
        }

        // Counted as the check counts them (GuardBuffers.AddDelivery), so what is counted or given back here is what the check counted.
        GuardBuffers buffers = GuardBuffers.Rent();
        buffers.EnsureRecipients(message.RecipientCount);
        for (int i = 0; i < message.RecipientCount; i++)
        {
            if (message.GetRecipient(i) is { } raw && _keys.Addresses.Get(raw) is { IsValid: true } address)
            {
                buffers.AddDelivery(address, raw);
            }
        }

        int deliveries = buffers.DeliveryCount;
        buffers.Return();
        return Math.Max(1, deliveries);
    }

    /// <summary>
    /// Who caused an admitted message, with its send id; the network grouped as the client IP dimension groups it, the
    /// tenant pool as the check decided it (<paramref name="pool"/>), so the bounces count where the send did.
    /// </summary>
    internal EmailSendAttribution Attribute(OutboundEmail message, ulong idHigh, uint idLow, string? pool)
    {
        Span<byte> id = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(id, idHigh);
        BinaryPrimitives.WriteUInt32LittleEndian(id[8..], idLow);
        return new EmailSendAttribution
        {
            SendId = Base64Url.EncodeToString(id),
            TenantId = message.TenantId,
            TenantPool = pool,
            UserId = message.UserId,
            Sender = message.Sender is { } sender && _keys.Addresses.Get(sender) is { IsValid: true } address ? address.Address : null,
            Category = message.Category,
            ClientNetwork = message.ClientIp is { } ip ? FeedbackKeys.Cidr(_keys.ClientIps.Get(ip).Partition) : null,
            EndpointPolicy = message.EndpointPolicy,
            TagSigner = TagSigner,
        };
    }

    /// <summary>
    /// 96 random bits: unique across instances without coordination, and 16 characters as base64url. Taken from a
    /// per-thread block of the system's cryptographic generator, so ids stay unpredictable (they travel in a header to
    /// the recipients) while a check pays only for a copy.
    /// </summary>
    private static (ulong High, uint Low) NextSendId()
    {
        byte[]? block = t_sendIds;
        int next = t_nextSendId;
        if (block is null || next == SendIdsPerBlock)
        {
            block ??= t_sendIds = new byte[SendIdsPerBlock * 12];
            RandomNumberGenerator.Fill(block);
            next = 0;
        }

        ReadOnlySpan<byte> id = block.AsSpan(next * 12, 12);
        t_nextSendId = next + 1;
        return (BinaryPrimitives.ReadUInt64LittleEndian(id), BinaryPrimitives.ReadUInt32LittleEndian(id[8..]));
    }
}
