using System.Text;

namespace EmailGuard;

/// <summary>
/// The bound on the ids a message names (tenant, user, category), which callers may take from a request: an id of a
/// megabyte would otherwise be asked of the app's <see cref="ITenantLimitProvider"/> and kept in its cache, hashed into
/// keys and written into log lines on every check. The bound is what a message's attribution can carry back with the
/// provider's feedback (<see cref="EmailFeedbackTags"/>): a longer id would be left out of it, and its bounces and
/// complaints would reach no ratio breaker.
/// </summary>
internal static class GuardPartyIds
{
    /// <summary>The longest id, in UTF-8 bytes: its tag value is then at most <see cref="EmailFeedbackTags.MaxValueLength"/> base64url characters.</summary>
    public const int MaxUtf8Bytes = EmailFeedbackTags.MaxValueLength / 4 * 3;

    /// <summary>The first dimension of <paramref name="message"/> whose id is too long, or <see cref="EmailGuardDimension.None"/>.</summary>
    public static EmailGuardDimension FindTooLong(OutboundEmail message) => FindTooLong(message.TenantId, message.UserId, message.Category);

    /// <summary>The first of the tenant, user and category ids that is too long, or <see cref="EmailGuardDimension.None"/>.</summary>
    public static EmailGuardDimension FindTooLong(string? tenantId, string? userId, string? category)
        => IsTooLong(tenantId) ? EmailGuardDimension.Tenant
            : IsTooLong(userId) ? EmailGuardDimension.User
            : IsTooLong(category) ? EmailGuardDimension.Category
            : EmailGuardDimension.None;

    /// <summary>The id of <paramref name="dimension"/> in <paramref name="message"/>.</summary>
    public static string Of(OutboundEmail message, EmailGuardDimension dimension) => dimension switch
    {
        EmailGuardDimension.Tenant => message.TenantId!,
        EmailGuardDimension.User => message.UserId!,
        _ => message.Category!,
    };

    // A character is 1 to 3 UTF-8 bytes (a surrogate pair 4 for 2), so only ids between the two bounds are counted.
    public static bool IsTooLong(string? id)
        => id is not null && (id.Length > MaxUtf8Bytes || (id.Length > MaxUtf8Bytes / 3 && Encoding.UTF8.GetByteCount(id) > MaxUtf8Bytes));
}
