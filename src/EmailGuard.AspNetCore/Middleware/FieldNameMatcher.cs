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
        if (name.Contains('['))
        {
            name = FromJQuery(name);
        }

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

    /// <summary>
    /// The name MVC's default <c>JQueryFormValueProvider</c> binds a jQuery-style key as: <c>Input[Email]</c> is
    /// <c>Input.Email</c>, <c>Input[Emails][0]</c> is <c>Input.Emails[0]</c>, <c>email[]</c> is <c>email</c>. Matched
    /// as written, <c>Input[Email]=victim&amp;email=decoy</c> counted the decoy while the page bound the victim.
    /// </summary>
    private static ReadOnlySpan<char> FromJQuery(ReadOnlySpan<char> key)
    {
        var name = new System.Text.StringBuilder(key.Length);
        int i = 0;
        while (i < key.Length)
        {
            int close = key[i] == '[' ? key[i..].IndexOf(']') : -1;
            if (close < 0)
            {
                name.Append(key[i]);
                i++;
                continue;
            }

            ReadOnlySpan<char> inner = key.Slice(i + 1, close - 1);
            if (inner.Length != 0 && inner.ContainsAnyExceptInRange('0', '9'))
            {
                name.Append('.').Append(inner);
            }
            else if (inner.Length != 0)
            {
                name.Append(key.Slice(i, close + 1));
            }

            i += close + 1;
        }

        return name.ToString();
    }
}
