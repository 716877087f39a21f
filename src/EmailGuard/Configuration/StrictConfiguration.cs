using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace EmailGuard;

/// <summary>
/// Binds a configuration section to an options object after checking every key and value against the options type, so
/// that a typo or a malformed list item stops the app instead of being dropped. The stock binder skips a list item it
/// cannot convert and ignores keys it does not know, which leaves that limit off without a word.
/// </summary>
/// <remarks>
/// The known keys are read from the bound types by reflection, as the binder reads them, so a new option property is
/// accepted without touching this class. Time spans also accept shorthand periods (<see cref="TimeSpanSetting"/>).
/// </remarks>
internal static partial class StrictConfiguration
{
    private const int MaxDepth = 32;

    /// <summary>
    /// Checks <paramref name="section"/> against <typeparamref name="TOptions"/> and binds to <paramref name="options"/>
    /// every setting that passed. What failed is left out of the binding and recorded against <paramref name="options"/>
    /// for <see cref="StrictOptionsFactory{TOptions}"/>, which reports it with the failures of the options' validators that
    /// still hold, so that one start names every mistake of the section: a misspelt key, a value that does not convert
    /// and a value out of its range.
    /// </summary>
    public static void Bind<TOptions>(IConfigurationSection section, TOptions options)
        where TOptions : class
    {
        Result result = Check(section, typeof(TOptions));
        IConfigurationSection source = result.Rewrites.Count == 0 && result.Hidden.Count == 0
            ? section
            : new RewrittenConfigurationSection(section, result.Rewrites, result.Hidden);
        source.Bind(options);
        RecordListKeys(source, options, 0);
        if (result.Errors.Count != 0)
        {
            s_bindingFailures.AddOrUpdate(options, result);
        }
    }

    /// <summary>Checks <paramref name="section"/> against <paramref name="type"/> without binding.</summary>
    public static Result Check(IConfigurationSection section, Type type)
    {
        Result result = new(section);
        if (section.Exists())
        {
            CheckNode(section, type, result, 0);
        }

        return result;
    }

    private static void CheckNode(IConfigurationSection section, Type declared, Result result, int depth)
    {
        Type type = Nullable.GetUnderlyingType(declared) ?? declared;
        if (depth > MaxDepth)
        {
            result.Fail($"{section.Path}: the settings are nested too deeply.", section, hide: true);
            return;
        }

        if (IsScalar(type))
        {
            CheckScalar(section, type, declared != type || !type.IsValueType, result);
        }
        else if (IsCodeOnly(type))
        {
            result.Fail($"{section.Path}: this setting holds code ({FriendlyName(type)}) and is set in code only, not in configuration.", section, hide: true);
        }
        else if (IsCallbackSection(type))
        {
            // An events section: a misspelt callback would otherwise be answered "did you mean OnChecked?", and fixing
            // the spelling would only lead to "this setting holds code"; say so for the whole section at once.
            result.Fail($"{section.Path}: this section holds callbacks ({FriendlyName(type)}) and is set in code only, not in configuration.", section, hide: true);
        }
        else if (GetDictionaryTypes(type) is { } dictionary)
        {
            CheckNoValue(section, "a section of named entries", result);
            foreach (IConfigurationSection child in section.GetChildren())
            {
                if (dictionary.Key != typeof(string) && !TryConvert(child.Key, dictionary.Key, out _))
                {
                    result.Fail($"{child.Path}: '{child.Key}' is not {Describe(dictionary.Key)}.", child, hide: true);
                    continue;
                }

                CheckNode(child, dictionary.Value, result, depth + 1);
            }
        }
        else if (GetElementType(type) is { } element)
        {
            CheckNoValue(section, "a list", result);
            foreach (IConfigurationSection child in section.GetChildren())
            {
                if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    result.Fail($"{child.Path}: '{child.Key}' is not a list index; list items are numbered from 0.", child, hide: true);
                    continue;
                }

                CheckNode(child, element, result, depth + 1);
            }
        }
        else
        {
            CheckObject(section, type, result, depth);
        }
    }

    private static void CheckObject(IConfigurationSection section, Type type, Result result, int depth)
    {
        Dictionary<string, PropertyInfo> properties = BindableProperties(type);
        CheckNoValue(section, $"a section of settings ({string.Join(", ", properties.Keys)})", result);
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out PropertyInfo? property))
            {
                // The binder leaves the key out; what it was meant to set is left at its default, so a failure of that
                // setting (or, with no likely setting, of the section) need not hold of what was written.
                if (RenamedTo(type, child.Key) is { } newName)
                {
                    result.Fail($"{child.Path}: this setting was renamed to {newName}; write {section.Path}:{newName} instead.", section.GetSection(newName), hide: false);
                }
                else
                {
                    string? meant = Nearest(child.Key, properties.Keys);
                    result.Fail($"{child.Path}: unknown setting{Suggest(child.Key, properties.Keys, FriendlyName(type))}", meant is null ? section : section.GetSection(meant), hide: false);
                }

                continue;
            }

            if (property.SetMethod is not { IsPublic: true } && (IsScalar(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType) || property.PropertyType.IsValueType))
            {
                result.Fail($"{child.Path}: this setting is read-only and cannot be set from configuration.", child, hide: true);
                continue;
            }

            CheckNode(child, property.PropertyType, result, depth + 1);
        }

        // Matched by name, as RenamedSettingAttribute is, so the packages that compile this file need not see the type.
        foreach (CustomAttributeData attribute in type.GetCustomAttributesData())
        {
            if (attribute.AttributeType.Name != "SameSettingAttribute" || attribute.ConstructorArguments is not [{ Value: string key }, { Value: string otherKey }])
            {
                continue;
            }

            IConfigurationSection one = section.GetSection(key);
            IConfigurationSection other = section.GetSection(otherKey);
            if (one.Value is { } value && other.Value is { } otherValue && !string.Equals(value.Trim(), otherValue.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                result.Fail($"{one.Path} is {Quoted(one, value)} but {other.Path} is {Quoted(other, otherValue)}; both keys set one value, so write only one.", one, hide: true);
                result.Hidden.Add(other.Path);
            }
        }
    }

    private static void CheckScalar(IConfigurationSection section, Type type, bool nullable, Result result)
    {
        bool hasChildren = false;
        foreach (IConfigurationSection child in section.GetChildren())
        {
            hasChildren = true;
            result.Fail($"{child.Path}: unknown setting; {section.Path} is a single value ({Describe(type)}), not a section.", section, hide: true);
        }

        string? value = section.Value;
        if (hasChildren || value is null || type == typeof(string) || (value.Length == 0 && nullable))
        {
            return;
        }

        if (type == typeof(TimeSpan))
        {
            if (!TimeSpanSetting.TryParse(value, out TimeSpan span, out bool shorthand, out string? error))
            {
                result.Fail($"{section.Path}: {error}.", section, hide: true);
            }
            else if (shorthand)
            {
                result.Rewrites[section.Path] = span.ToString("c", CultureInfo.InvariantCulture);
            }

            return;
        }

        if (!TryConvert(value, type, out object? converted) || (type.IsEnum && !IsDefinedEnumValue(type, converted!)))
        {
            result.Fail($"{section.Path}: {Quoted(section, value)} is not {Describe(type)}.", section, hide: true);
        }
    }

    private static void CheckNoValue(IConfigurationSection section, string expected, Result result)
    {
        // An empty value is how JSON's [] and {} arrive; anything else is a value where settings were expected.
        if (!string.IsNullOrEmpty(section.Value))
        {
            // The binder would take a bare value in a list for an item with every setting at its default.
            result.Fail($"{section.Path}: {Quoted(section, section.Value)} is a single value, but this setting is {expected}.", section, hide: !section.GetChildren().Any());
        }
    }

    /// <summary>
    /// A setting's value as a failure quotes it, unless the setting holds a secret (its name, or its list's, ends in
    /// Key, Keys, Secret, Password or Token: a signing key written as a single value where a list was expected, or
    /// spelt twice): the failure reaches the host's startup log, which is no place for a key.
    /// </summary>
    private static string Quoted(IConfigurationSection section, string? value)
    {
        string name = int.TryParse(section.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            ? ConfigurationPath.GetSectionKey(ConfigurationPath.GetParentPath(section.Path) ?? string.Empty)
            : section.Key;
        bool secret = name.EndsWith("Key", StringComparison.OrdinalIgnoreCase) || name.EndsWith("Keys", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith("Secret", StringComparison.OrdinalIgnoreCase) || name.EndsWith("Password", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith("Token", StringComparison.OrdinalIgnoreCase);
        return secret ? "a value (not shown: the setting holds a secret)" : $"'{value}'";
    }

    private static bool TryConvert(string value, Type type, out object? converted)
    {
        converted = null;
        if (type.IsEnum)
        {
            // Enum.TryParse also accepts numbers; IsDefinedEnumValue rejects those that name nothing. It also reads a list
            // of names and ORs their numbers, which the binder does too: for an enum that is not a set of flags, a list
            // ("FailOpen, LocalFallback") would bind as whichever member the OR names (LocalFallback), without a word.
            if (!type.IsDefined(typeof(FlagsAttribute), inherit: false) && value.Contains(',', StringComparison.Ordinal))
            {
                return false;
            }

            return Enum.TryParse(type, value, ignoreCase: true, out converted);
        }

        if (type == typeof(bool))
        {
            bool ok = bool.TryParse(value.Trim(), out bool flag);
            converted = flag;
            return ok;
        }

        if (Type.GetTypeCode(type) is TypeCode.Single or TypeCode.Double or TypeCode.Decimal && value.Contains(',', StringComparison.Ordinal))
        {
            // The converter reads "0,5" as 5 (a thousands separator); whoever wrote it meant a half.
            return false;
        }

        try
        {
            converted = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException or NotSupportedException || ex.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static bool IsDefinedEnumValue(Type type, object value)
    {
        if (type.IsDefined(typeof(FlagsAttribute), inherit: false))
        {
            ulong all = 0;
            foreach (object defined in Enum.GetValues(type))
            {
                all |= Convert.ToUInt64(defined, CultureInfo.InvariantCulture);
            }

            return (Convert.ToUInt64(value, CultureInfo.InvariantCulture) & ~all) == 0;
        }

        return Enum.IsDefined(type, value);
    }

    /// <summary>The new name of a setting renamed before 1.0 (<see cref="RenamedSettingAttribute"/>, matched by type name).</summary>
    private static string? RenamedTo(Type type, string key)
    {
        foreach (CustomAttributeData attribute in type.GetCustomAttributesData())
        {
            if (attribute.AttributeType.Name == nameof(RenamedSettingAttribute)
                && attribute.ConstructorArguments is [{ Value: string oldName }, { Value: string newName }]
                && string.Equals(oldName, key, StringComparison.OrdinalIgnoreCase))
            {
                return newName;
            }
        }

        return null;
    }
}
