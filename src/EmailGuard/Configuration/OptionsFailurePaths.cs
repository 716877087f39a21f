using System.Globalization;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Puts the configuration section in front of the failures of a source-generated options validator, which name only
/// the property (<c>MaxTrackedKeys: The field … must be between 1 and 100000000.</c>), so that they read as every other
/// startup failure does, by the setting's full path (<c>EmailGuard:InMemoryStore:MaxTrackedKeys: …</c>), and end with
/// the value given (<c>…; it is 0.</c>).
/// </summary>
internal static class OptionsFailurePaths
{
    /// <summary>The result with <paramref name="section"/> and a colon in front of each failure; any other result as it is.</summary>
    /// <param name="result">A generated validator's result, whose failures each begin with the property's name.</param>
    /// <param name="section">The options' configuration section, such as <c>EmailGuard:Resilience</c>.</param>
    /// <param name="options">The options validated; a failure about one of its number or time span properties ends with that property's value.</param>
    /// <returns>The result, each failure named by its full path.</returns>
    public static ValidateOptionsResult Prefix(ValidateOptionsResult result, string section, object? options = null)
        => result.Failed && result.Failures is { } failures
            ? ValidateOptionsResult.Fail(failures.Select(failure => $"{section}:{WithValue(failure, options)}"))
            : result;

    private static string WithValue(string failure, object? options)
    {
        int colon = failure.IndexOf(':', StringComparison.Ordinal);
        if (options is null || colon <= 0 || !failure.EndsWith('.'))
        {
            return failure;
        }

        // Only a number or a time span is quoted back; a string may be a secret, and a null says nothing.
        object? value = options.GetType().GetProperty(failure[..colon])?.GetValue(options);
        return value is IFormattable formattable and not Enum
            ? $"{failure[..^1]}; it is {formattable.ToString(null, CultureInfo.InvariantCulture)}."
            : failure;
    }
}
