namespace EmailGuard;

/// <summary>
/// Who caused a message to be sent: what feedback about the message is charged to. The guard produces one for each
/// admitted message; providers echo it back through message tags, or it is found again by the provider's message id.
/// </summary>
public sealed class EmailSendAttribution
{
    /// <summary>EmailGuard's own id for the admitted message. Unique per admitted message.</summary>
    public string? SendId { get; init; }

    /// <summary>The tenant the message was sent for.</summary>
    public string? TenantId { get; init; }

    /// <summary>
    /// The tenant pool (<see cref="TenantLimits.Pool"/>) the tenant was in when the message was sent, in lower case: its
    /// bounces and complaints count for the pool too, whatever pool the tenant is in when they come back.
    /// </summary>
    public string? TenantPool { get; init; }

    /// <summary>The user who caused the message.</summary>
    public string? UserId { get; init; }

    /// <summary>The sender address, normalized.</summary>
    public string? Sender { get; init; }

    /// <summary>The message category, such as <c>signup</c>.</summary>
    public string? Category { get; init; }

    /// <summary>The client network the request came from, as a CIDR string such as <c>203.0.113.0/24</c> or <c>2001:db8::/64</c>.</summary>
    public string? ClientNetwork { get; init; }

    /// <summary>The endpoint policy that admitted the request that caused the message, if any.</summary>
    public string? EndpointPolicy { get; init; }

    /// <summary>
    /// The signer of this attribution's tags (<see cref="EmailFeedbackTags.Write"/>): set by the guard on the attribution
    /// of an admitted message when <see cref="EmailFeedbackOptions.TagSigningKeys"/> lists keys, so every sender that
    /// writes the tags of <see cref="EmailSendDecision.Attribution"/> signs them without being handed the keys.
    /// </summary>
    internal FeedbackTagSigner? TagSigner { get; init; }
}
