using FluentAssertions;

namespace EmailGuard.Testing.Configuration;

/// <summary>What every startup failure must look like: one line that opens with the full path of a setting the app wrote.</summary>
public static class StartupFailure
{
    /// <summary>
    /// Fails unless <paramref name="failure"/> is a single line without .NET's argument exception text and opens with a
    /// setting's full path: one of <paramref name="settings"/>, a section holding one, or a setting beside one (a limit
    /// left at its default next to the window that was written), never a bare property name or a type's name.
    /// </summary>
    /// <param name="failure">One failure of an <c>OptionsValidationException</c>.</param>
    /// <param name="settings">The keys the app wrote, or its settings as <c>key=value</c> lines.</param>
    public static void ShouldNameOneOf(string failure, IEnumerable<string> settings)
    {
        failure.Should().NotContain("\n").And.NotContain("(Parameter '").And.NotContain("Actual value was");
        string path = failure.Split(' ')[0].TrimEnd(':', '.');
        path.Should().StartWith("EmailGuard:", "the failure '{0}' must open with a setting's full path", failure);
        string section = path.Contains(':', StringComparison.Ordinal) ? path[..(path.LastIndexOf(':') + 1)] : path;
        settings.Select(s => s.Split('=')[0]).Should().Contain(
            key => key.StartsWith(path, StringComparison.OrdinalIgnoreCase) || key.StartsWith(section, StringComparison.OrdinalIgnoreCase),
            "the failure '{0}' must open with the path of a setting the app wrote, or of one beside it",
            failure);
    }

    /// <summary>
    /// Fails unless <paramref name="failures"/> are exactly one per opening in <paramref name="openings"/>: each opening
    /// starts one failure, and there is no other failure (such as a range failure quoting the default that a misspelt or
    /// unconvertible setting left in place of what was written).
    /// </summary>
    /// <param name="failures">The failures of an <c>OptionsValidationException</c>, or of several.</param>
    /// <param name="openings">How each expected failure opens.</param>
    public static void ShouldBeOnePer(IReadOnlyCollection<string> failures, params string[] openings)
    {
        string all = string.Join(" | ", failures);
        foreach (string opening in openings)
        {
            failures.Should().ContainSingle(f => f.StartsWith(opening, StringComparison.Ordinal), "one failure must open with '{0}': {1}", opening, all);
        }

        failures.Should().HaveCount(openings.Length, "every mistake is reported once and nothing else is: {0}", all);
    }
}
