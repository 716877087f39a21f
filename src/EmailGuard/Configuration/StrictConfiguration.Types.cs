using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace EmailGuard;

/// <summary>How the configuration binder sees a type: scalar, collection, dictionary or object with bindable properties, and how a value of it is described in an error.</summary>
internal static partial class StrictConfiguration
{
    private static bool IsScalar(Type type)
        => type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid) || type == typeof(Uri)
        || type == typeof(Version);

    // Delegates, and interfaces or abstract types that are not collections, cannot come from configuration.
    private static bool IsCodeOnly(Type type)
        => typeof(Delegate).IsAssignableFrom(type)
        || ((type.IsInterface || type.IsAbstract) && GetDictionaryTypes(type) is null && GetElementType(type) is null);

    /// <summary>A class whose every bindable property holds code, such as the send guard's <c>Events</c>.</summary>
    private static bool IsCallbackSection(Type type)
    {
        Dictionary<string, PropertyInfo> properties = BindableProperties(type);
        return properties.Count > 0 && properties.Values.All(p => IsCodeOnly(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType));
    }

    private static (Type Key, Type Value)? GetDictionaryTypes(Type type)
    {
        foreach (Type candidate in (IEnumerable<Type>)[type, .. type.GetInterfaces()])
        {
            if (candidate.IsGenericType)
            {
                Type definition = candidate.GetGenericTypeDefinition();
                if (definition == typeof(IDictionary<,>) || definition == typeof(IReadOnlyDictionary<,>))
                {
                    Type[] arguments = candidate.GetGenericArguments();
                    return (arguments[0], arguments[1]);
                }
            }
        }

        return null;
    }

    private static Type? GetElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        foreach (Type candidate in (IEnumerable<Type>)[type, .. type.GetInterfaces()])
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return candidate.GetGenericArguments()[0];
            }
        }

        return null;
    }

    // The binder matches public instance properties by name, ignoring case, or by [ConfigurationKeyName].
    private static Dictionary<string, PropertyInfo> BindableProperties(Type type)
    {
        Dictionary<string, PropertyInfo> properties = new(StringComparer.OrdinalIgnoreCase);
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is { IsPublic: true } && property.GetIndexParameters().Length == 0)
            {
                string name = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
                properties.TryAdd(name, property);
            }
        }

        return properties;
    }

    private static string Describe(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
        {
            string names = string.Join(", ", Enum.GetNames(type));
            return type.IsDefined(typeof(FlagsAttribute), inherit: false) ? $"a combination of {names}" : $"one of {names}";
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "true or false",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32
                or TypeCode.Int64 or TypeCode.UInt64 => string.Create(CultureInfo.InvariantCulture, $"a whole number from {type.GetField("MinValue")!.GetValue(null)} to {type.GetField("MaxValue")!.GetValue(null)}"),
            TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a number (with a '.' for decimals)",
            TypeCode.String => "text",
            _ when type == typeof(TimeSpan) => "a time span",
            _ => $"a valid {FriendlyName(type)}",
        };
    }

    private static string FriendlyName(Type type)
        => type.IsGenericType ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(FriendlyName))}>" : type.Name;
}
