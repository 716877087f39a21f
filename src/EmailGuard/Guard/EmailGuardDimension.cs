namespace EmailGuard;

/// <summary>
/// The scopes a send is counted against. A flags enum, so that sets of dimensions (for example the ones an
/// allowlisted party skips) can be expressed; a decision always names a single dimension.
/// </summary>
[Flags]
public enum EmailGuardDimension
{
    /// <summary>No dimension.</summary>
    None = 0,

    /// <summary>Every message the application sends, e.g. the mail provider's own caps.</summary>
    Global = 1,

    /// <summary>The tenant (company, workspace) the message is sent for.</summary>
    Tenant = 2,

    /// <summary>The normalized From address.</summary>
    Sender = 4,

    /// <summary>Each normalized recipient; defeats spraying one victim.</summary>
    Recipient = 8,

    /// <summary>Each recipient's domain; defeats random addresses at one domain.</summary>
    RecipientDomain = 16,

    /// <summary>The user who triggered the message.</summary>
    User = 32,

    /// <summary>The client IP of the request that triggered the message (IPv4 and IPv6 each grouped by its prefix).</summary>
    ClientIp = 64,

    /// <summary>The message category, e.g. <c>signup</c> or <c>password-reset</c>.</summary>
    Category = 128,

    /// <summary>
    /// The message's content: a fingerprint of its normalized subject and body, so that one text sent to many
    /// recipients is one counter. Applies only when the app passes <see cref="OutboundEmail.Content"/>.
    /// </summary>
    Content = 256,

    /// <summary>
    /// Every dimension about who sends and who receives. <see cref="Content"/> is not part of it, so an allowlisted
    /// party does not skip the content rules unless an allowlist option names <see cref="Content"/> itself.
    /// </summary>
    All = Global | Tenant | Sender | Recipient | RecipientDomain | User | ClientIp | Category,
}
