namespace EmailGuard.Dashboard;

/// <summary>Reads an enum named by a form field or a query: one of its names or numbers, nothing else.</summary>
internal static class FormEnum
{
    /// <summary>
    /// Reads <paramref name="value"/> as one defined member of <typeparamref name="T"/>. <see cref="Enum.TryParse{TEnum}(string?, bool, out TEnum)"/>
    /// also reads a list of names and ORs their numbers, so <c>type=Sender,RecipientDomain</c> would name the tenant
    /// (1 | 2 = 3): a list is refused, as a number that names no member is.
    /// </summary>
    public static bool TryParse<T>(string? value, out T result)
        where T : struct, Enum
    {
        if (value is null || value.Contains(',', StringComparison.Ordinal) || !Enum.TryParse(value, ignoreCase: true, out result) || !Enum.IsDefined(result))
        {
            result = default;
            return false;
        }

        return true;
    }
}
