using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

internal static class UserResolver
{
    /// <summary>The stable id of the authenticated user, or null for an anonymous request.</summary>
    public static string? GetUserId(HttpContext context)
    {
        ClaimsPrincipal user = context.User;
        if (user.Identity?.IsAuthenticated != true)
        {
            return null;
        }

        return user.FindFirst(ClaimTypes.NameIdentifier)?.Value
            ?? user.FindFirst("sub")?.Value
            ?? user.Identity.Name;
    }
}
