using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;

namespace EmailGuard;

/// <summary>
/// Rewords a data-annotation failure of a generated options validator (<c>Property: The field Type.Property must be
/// between 1 and 10.</c>) as the hand-written checks word theirs: <c>Section:Property must be between 1 and 10; it is 0.</c>
/// </summary>
internal static class OptionsFailureWording
{
    /// <summary>The failure by the setting's full path, in one sentence.</summary>
    public static string Reword(string failure, string section, object options)
    {
        int colon = failure.IndexOf(": ", StringComparison.Ordinal);
        PropertyInfo? property = colon > 0 ? options.GetType().GetProperty(failure[..colon]) : null;
        if (property is null)
        {
            return $"{section}:{failure}";
        }

        string name = property.Name;
        string message = failure[(colon + 2)..];
        string path = $"{section}:{name}";
        object? value = property.GetValue(options);

        // The generated validator names a default-named instance Type.Property; the attribute whose text this is failed.
        string displayName = $"{options.GetType().Name}.{name}";
        foreach (ValidationAttribute attribute in property.GetCustomAttributes<ValidationAttribute>())
        {
            if (attribute.IsValid(value) || attribute.FormatErrorMessage(displayName) != message)
            {
                continue;
            }

            if (attribute.ErrorMessage is not null || attribute.ErrorMessageResourceType is not null)
            {
                // The attribute's own words: given the path in front when they open with the setting's name.
                return message.StartsWith(name + " ", StringComparison.Ordinal) ? $"{section}:{message}" : $"{path}: {message}";
            }

            if (Describe(attribute, property, value) is { } sentence)
            {
                return $"{path} {sentence}";
            }
        }

        // An attribute not known here, or a named instance: its text as it is, after the path, with a number's value.
        return value is IFormattable and not Enum && message.EndsWith('.')
            ? $"{path}: {message[..^1]}; it is {Show(value, property)}."
            : $"{path}: {message}";
    }

    /// <summary>What the attribute requires and what the setting is, or null for an attribute not known here.</summary>
    private static string? Describe(ValidationAttribute attribute, PropertyInfo property, object? value)
    {
        switch (attribute)
        {
            case RangeAttribute range:
                return Range(range, property, value);
            case RequiredAttribute:
                return "must be set.";
            case StringLengthAttribute stringLength:
                return Size(stringLength.MinimumLength > 0 ? Bound($"from {stringLength.MinimumLength} to {stringLength.MaximumLength}") : Bound($"at most {stringLength.MaximumLength}"), value);
            case MinLengthAttribute minLength:
                return Size(Bound($"at least {minLength.Length}"), value);
            case MaxLengthAttribute maxLength:
                return Size(Bound($"at most {maxLength.Length}"), value);
            case LengthAttribute length:
                return Size(Bound($"from {length.MinimumLength} to {length.MaximumLength}"), value);
            case UrlAttribute:
                return "must be an absolute http, https or ftp URL.";
            default:
                return null;
        }
    }

    private static string Range(RangeAttribute range, PropertyInfo property, object? value)
    {
        // A bound at the end of the property's type (Range(1, long.MaxValue) arrives as the double 9.22E+18) is no bound.
        bool noMaximum = IsTypeEnd(range.Maximum, property, max: true);
        bool noMinimum = IsTypeEnd(range.Minimum, property, max: false);
        string minimum = $"{(range.MinimumIsExclusive ? "greater than" : "at least")} {Show(range.Minimum, property)}";
        string maximum = $"{(range.MaximumIsExclusive ? "less than" : "at most")} {Show(range.Maximum, property)}";
        string requirement = (noMinimum, noMaximum, range.MinimumIsExclusive || range.MaximumIsExclusive) switch
        {
            (false, true, _) => minimum,
            (true, false, _) => maximum,
            (false, false, false) => $"between {Show(range.Minimum, property)} and {Show(range.Maximum, property)}",
            _ => $"{minimum} and {maximum}",
        };
        return $"must be {requirement}; it is {Show(value, property)}.";
    }

    private static bool IsTypeEnd(object bound, PropertyInfo property, bool max)
    {
        Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (bound is not double d || Type.GetTypeCode(type) is not (TypeCode.Int32 or TypeCode.Int64 or TypeCode.UInt32 or TypeCode.UInt64))
        {
            return false;
        }

        double end = Type.GetTypeCode(type) switch
        {
            TypeCode.Int32 => max ? int.MaxValue : int.MinValue,
            TypeCode.Int64 => max ? long.MaxValue : long.MinValue,
            TypeCode.UInt32 => max ? uint.MaxValue : uint.MinValue,
            _ => max ? ulong.MaxValue : ulong.MinValue,
        };
        return max ? d >= end : d <= end;
    }

    /// <summary>A bound or a value as the hand-written checks print it: whole numbers in full, time spans to the millisecond.</summary>
    private static string Show(object? value, PropertyInfo property)
    {
        Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        switch (value)
        {
            case null:
                return "empty";
            case TimeSpan span when span < TimeSpan.Zero:
                return "-" + Show(span.Duration(), property);
            case TimeSpan span:
                return span.Ticks % TimeSpan.TicksPerSecond != 0 && span.Ticks % TimeSpan.TicksPerMillisecond == 0 && span > TimeSpan.Zero
                    ? span.ToString(span.Days > 0 ? @"d\.hh\:mm\:ss\.fff" : @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture)
                    : span.ToString("c", CultureInfo.InvariantCulture);
            case double d when Type.GetTypeCode(type) is TypeCode.Int32 or TypeCode.Int64 && Math.Abs(d) < 1e18:
                return ((long)d).ToString(CultureInfo.InvariantCulture);
            case double d when Math.Abs(d) is > 0 and < 1e15:
                return ((decimal)d).ToString(CultureInfo.InvariantCulture);
            case IFormattable formattable:
                return formattable.ToString(null, CultureInfo.InvariantCulture);
            default:
                return "of another kind";
        }
    }

    /// <summary>A length requirement: a string's characters, a list's items.</summary>
    private static string Size(string bound, object? value) => value switch
    {
        string text => string.Create(CultureInfo.InvariantCulture, $"must be {bound} characters long; it is {text.Length}."),
        ICollection collection => string.Create(CultureInfo.InvariantCulture, $"must hold {bound} items; it holds {collection.Count}."),
        _ => $"must be {bound} long.",
    };

    private static string Bound(FormattableString bound) => bound.ToString(CultureInfo.InvariantCulture);
}
