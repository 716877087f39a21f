using System.Security.Cryptography;
using System.Text;

namespace EmailGuard.Sample.Admin;

/// <summary>
/// DEVELOPMENT-ONLY protection of the EmailGuard dashboard and the queue controls: a shared key in a cookie or the
/// <c>X-Admin-Key</c> header. A real app puts its operator screens behind its own sign-in and an authorization policy;
/// this keeps the sample self-contained.
/// </summary>
internal static class AdminKey
{
    public const string CookieName = "sample-admin-key";
    public const string HeaderName = "X-Admin-Key";

    public static bool IsConfigured(SampleOptions options) => !string.IsNullOrEmpty(options.AdminKey);

    public static bool IsAuthorized(HttpContext context, SampleOptions options)
    {
        if (!IsConfigured(options))
        {
            return false;
        }

        string? presented = context.Request.Headers[HeaderName].FirstOrDefault() ?? context.Request.Cookies[CookieName];
        return Matches(presented, options.AdminKey!);
    }

    /// <summary>
    /// The dev outbox shows every mail and so who has an account: open in Development, and elsewhere only with the
    /// admin key.
    /// </summary>
    public static bool OpensDevPages(HttpContext context, IHostEnvironment environment, SampleOptions options)
        => environment.IsDevelopment() || IsAuthorized(context, options);

    public static bool Matches(string? presented, string expected)
        => presented is not null
           && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}
