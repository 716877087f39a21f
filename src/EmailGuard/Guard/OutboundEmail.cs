using System.Net;

namespace EmailGuard;

/// <summary>
/// The envelope of a message the application is about to queue or send: who sends it to whom, for which tenant and
/// user, and why. Only the recipients are required; every other dimension applies only when its value is given.
/// </summary>
public sealed class OutboundEmail
{
    /// <summary>Gets the From address.</summary>
    public string? Sender { get; init; }

    /// <summary>Gets the To recipients.</summary>
    public IReadOnlyList<string> To { get; init; } = [];

    /// <summary>Gets the Cc recipients.</summary>
    public IReadOnlyList<string> Cc { get; init; } = [];

    /// <summary>Gets the Bcc recipients.</summary>
    public IReadOnlyList<string> Bcc { get; init; } = [];

    /// <summary>
    /// Gets the tenant the message is sent for. Compared exactly, case included: pass the id the app keys the tenant on
    /// (its primary key), not a name a user typed, or <c>Acme</c> and <c>acme</c> are two tenants with a cap each. Null
    /// for a message sent for no tenant: an empty or white-space id is refused (<see cref="EmailSendReason.InvalidParty"/>),
    /// as are a blank <see cref="UserId"/> and <see cref="Category"/>.
    /// </summary>
    public string? TenantId { get; init; }

    /// <summary>
    /// Gets the user who triggered the message, by an id unique across tenants: the user dimension's counters, flags,
    /// lists and ratio breaker key on it alone. Where user ids repeat per tenant, prefix them with the tenant
    /// (<c>acme:1</c>), or one tenant's user is limited, flagged and suspended with another tenant's. Compared exactly,
    /// case included, as <see cref="TenantId"/>: pass the id the app keys the user on, not the user name as typed at
    /// sign-in, or a bot that varies its case gets a fresh cap each time.
    /// </summary>
    public string? UserId { get; init; }

    /// <summary>Gets the category, e.g. <c>signup</c>, <c>password-reset</c> or <c>share</c>; null for none (a blank one is refused).</summary>
    public string? Category { get; init; }

    /// <summary>Gets the IP address of the request that triggered the message, when there was one.</summary>
    public IPAddress? ClientIp { get; init; }

    /// <summary>
    /// Gets the endpoint policy that admitted the request that triggered the message (such as <c>signup</c>), when there
    /// was one. It travels in the attribution, so a bounce names the policy and the client network it came through.
    /// </summary>
    public string? EndpointPolicy { get; init; }

    /// <summary>
    /// Gets what the message says, when the app passes it: then the <see cref="EmailGuardDimension.Content"/> rules and
    /// the <see cref="IEmailContentInspector"/> apply. The guard keeps only a fingerprint of it, never the text.
    /// </summary>
    public EmailContent? Content { get; init; }

    /// <summary>Gets the number of recipients as given, before duplicates are removed.</summary>
    public int RecipientCount => (To?.Count ?? 0) + (Cc?.Count ?? 0) + (Bcc?.Count ?? 0);

    /// <summary>Creates a message to one or more To recipients.</summary>
    /// <param name="to">The recipients.</param>
    /// <returns>The message; set the other properties with an object initializer or <c>with</c>-style copies.</returns>
    public static OutboundEmail ToRecipients(params string[] to) => new() { To = to };

    /// <summary>This envelope with <paramref name="content"/>; every other value is the same.</summary>
    internal OutboundEmail WithContent(EmailContent content) => new()
    {
        Sender = Sender,
        To = To,
        Cc = Cc,
        Bcc = Bcc,
        TenantId = TenantId,
        UserId = UserId,
        Category = Category,
        ClientIp = ClientIp,
        EndpointPolicy = EndpointPolicy,
        Content = content,
    };

    /// <summary>
    /// This envelope with each address that has a line break around it trimmed, as the guard counted it; this envelope
    /// itself when none has (the guard refuses a line break inside an address). A transport that writes headers as text
    /// would write the break as an empty line, which ends the headers, so the send id and tag headers after it would
    /// be body text and the feedback charged to no one.
    /// </summary>
    internal OutboundEmail WithAddressesOnOneLine()
        => !HasLineBreak(Sender) && !AnyLineBreak(To) && !AnyLineBreak(Cc) && !AnyLineBreak(Bcc)
            ? this
            : new()
            {
                Sender = HasLineBreak(Sender) ? Sender!.Trim() : Sender,
                To = OnOneLine(To),
                Cc = OnOneLine(Cc),
                Bcc = OnOneLine(Bcc),
                TenantId = TenantId,
                UserId = UserId,
                Category = Category,
                ClientIp = ClientIp,
                EndpointPolicy = EndpointPolicy,
                Content = Content,
            };

    private static bool HasLineBreak(string? address) => address is not null && address.AsSpan().ContainsAny('\r', '\n');

    private static bool AnyLineBreak(IReadOnlyList<string>? addresses) => addresses is not null && addresses.Any(HasLineBreak);

    private static IReadOnlyList<string> OnOneLine(IReadOnlyList<string>? addresses)
        => addresses is null ? [] : [.. addresses.Select(static address => HasLineBreak(address) ? address.Trim() : address)];

    /// <summary>
    /// Gets a recipient by its position among all recipients as given: the To list first, then Cc, then Bcc, the way
    /// <see cref="RecipientCount"/> counts them. It walks the lists without copying them.
    /// </summary>
    /// <param name="index">The position, from zero to <see cref="RecipientCount"/> minus one.</param>
    /// <returns>The recipient as given, before any normalization; <see langword="null"/> when the list holds one.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is negative or not below <see cref="RecipientCount"/>.</exception>
    public string? GetRecipient(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        IReadOnlyList<string>? to = To;
        int toCount = to?.Count ?? 0;
        if (index < toCount)
        {
            return to![index];
        }

        index -= toCount;
        IReadOnlyList<string>? cc = Cc;
        int ccCount = cc?.Count ?? 0;
        if (index < ccCount)
        {
            return cc![index];
        }

        index -= ccCount;
        IReadOnlyList<string>? bcc = Bcc;
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, bcc?.Count ?? 0);
        return bcc![index];
    }
}
