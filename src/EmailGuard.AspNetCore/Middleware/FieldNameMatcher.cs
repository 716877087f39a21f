namespace EmailGuard.AspNetCore;

/// <summary>
/// Decides whether a form or query key is a name model binding could bind a <see cref="EmailRateLimitPolicyBuilder.PerField"/>
/// field from. MVC and Razor Pages bind a property both with and without its model's prefix (<c>Input.Email</c>,
/// <c>model.Email</c>, <c>Email</c>) and collections by index (<c>Email[0]</c>), all case-insensitively, so each of
/// these counts as the field.
/// </summary>
internal static class FieldNameMatcher
{
    public static bool Matches(string key, string fieldName)
    {
        ReadOnlySpan<char> name = key.AsSpan().Trim();
        while (name.Length > 0 && name[^1] == ']')
        {
            int open = name.LastIndexOf('[');
            if (open < 0)
            {
                break;
            }

            name = name[..open];
        }

        if (name.Equals(fieldName, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return name.Length > fieldName.Length
            && name[name.Length - fieldName.Length - 1] == '.'
            && name[^fieldName.Length..].Equals(fieldName, StringComparison.OrdinalIgnoreCase);
    }
}
