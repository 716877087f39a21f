using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Puts the configuration section in front of the failures of a source-generated options validator, which name only
/// the property (<c>MaxTrackedKeys: The field … must be between 1 and 100000000.</c>), so that they read as every other
/// startup failure does, by the setting's full path (<c>EmailGuard:InMemoryStore:MaxTrackedKeys: …</c>).
/// </summary>
internal static class OptionsFailurePaths
{
    /// <summary>The result with <paramref name="section"/> and a colon in front of each failure; any other result as it is.</summary>
    /// <param name="result">A generated validator's result, whose failures each begin with the property's name.</param>
    /// <param name="section">The options' configuration section, such as <c>EmailGuard:Resilience</c>.</param>
    /// <returns>The result, each failure named by its full path.</returns>
    public static ValidateOptionsResult Prefix(ValidateOptionsResult result, string section)
        => result.Failed && result.Failures is { } failures
            ? ValidateOptionsResult.Fail(failures.Select(failure => $"{section}:{failure}"))
            : result;
}
