using System.Text;

namespace EmailGuard;

/// <summary>
/// The ids a message names (tenant, user, category), which callers may take from a request, and which a check refuses
/// as <see cref="EmailSendReason.InvalidParty"/> before anything is done with them.
/// </summary>
/// <remarks>
/// <para>
/// A long id: one of a megabyte would otherwise be asked of the app's <see cref="ITenantLimitProvider"/> and kept in its
/// cache, hashed into keys and written into log lines on every check. The bound is what a message's attribution can carry
/// back with the provider's feedback (<see cref="EmailFeedbackTags"/>): a longer id would be left out of it, and its
/// bounces and complaints would reach no ratio breaker.
/// </para>
/// <para>
/// A blank id (empty, or only white space: <c>" "</c>, a tab, a no-break or ideographic space) names no party that the
/// rest of EmailGuard can act on: the flags and lists refuse it as a party id, so it could be neither suspended nor
/// blocklisted, and feedback counts nothing under it, so no ratio breaker judges it. Counted, each spelling (<c>" "</c>,
/// <c>"  "</c>, <c>"\u00A0"</c>) was a tenant of its own with a fresh cap, out of reach of every sanction. Null is
/// how a message says it has no tenant, user or category.
/// </para>
/// </remarks>
internal static class GuardPartyIds
{
    /// <summary>The longest id, in UTF-8 bytes: its tag value is then at most <see cref="EmailFeedbackTags.MaxValueLength"/> base64url characters.</summary>
    public const int MaxUtf8Bytes = EmailFeedbackTags.MaxValueLength / 4 * 3;

    /// <summary>The first dimension of <paramref name="message"/> whose id is blank or too long, or <see cref="EmailGuardDimension.None"/>.</summary>
    public static EmailGuardDimension FindInvalid(OutboundEmail message) => FindInvalid(message.TenantId, message.UserId, message.Category);

    /// <summary>The first of the tenant, user and category ids that is blank or too long, or <see cref="EmailGuardDimension.None"/>.</summary>
    public static EmailGuardDimension FindInvalid(string? tenantId, string? userId, string? category)
        => IsInvalid(tenantId) ? EmailGuardDimension.Tenant
            : IsInvalid(userId) ? EmailGuardDimension.User
            : IsInvalid(category) ? EmailGuardDimension.Category
            : EmailGuardDimension.None;

    /// <summary>The id of <paramref name="dimension"/> in <paramref name="message"/>.</summary>
    public static string Of(OutboundEmail message, EmailGuardDimension dimension) => dimension switch
    {
        EmailGuardDimension.Tenant => message.TenantId!,
        EmailGuardDimension.User => message.UserId!,
        _ => message.Category!,
    };

    /// <summary>Whether <paramref name="id"/> is given and a check refuses it: blank or too long.</summary>
    public static bool IsInvalid(string? id) => id is not null && (IsBlank(id) || IsTooLong(id));

    /// <summary>Whether <paramref name="id"/> is given but empty or only white space (<see cref="char.IsWhiteSpace(char)"/>).</summary>
    public static bool IsBlank(string? id) => id is not null && string.IsNullOrWhiteSpace(id);

    // A character is 1 to 3 UTF-8 bytes (a surrogate pair 4 for 2), so only ids between the two bounds are counted.
    public static bool IsTooLong(string? id)
        => id is not null && (id.Length > MaxUtf8Bytes || (id.Length > MaxUtf8Bytes / 3 && Encoding.UTF8.GetByteCount(id) > MaxUtf8Bytes));
}
