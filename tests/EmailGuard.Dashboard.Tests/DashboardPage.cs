using System.Text.RegularExpressions;

namespace EmailGuard.Dashboard.Tests;

/// <summary>What the tests read from a dashboard page's HTML.</summary>
internal static partial class DashboardPage
{
    /// <summary>A form's anti-forgery token, the value in group 1.</summary>
    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    public static partial Regex TokenPattern();
}
