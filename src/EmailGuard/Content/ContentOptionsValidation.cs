using System.Globalization;

namespace EmailGuard;

/// <summary>Checks the content settings of <see cref="SendGuardOptions"/> at startup, naming each setting by its full path.</summary>
internal static class ContentOptionsValidation
{
    /// <summary>The longest time budget an inspector may have: a check is on the path of a request or a queue.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(1);

    public static void Check(List<string> failures, string path, IList<string>? categories)
    {
        if (categories is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        for (int i = 0; i < categories.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(categories[i]))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:{i} is empty; name a category."));
            }
        }
    }

    public static void Check(List<string> failures, string path, ContentInspectionOptions? options)
    {
        if (options is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (options.Timeout <= TimeSpan.Zero || options.Timeout > MaxTimeout)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Timeout must be positive and at most {MaxTimeout}; it is {options.Timeout}."));
        }

        if (!Enum.IsDefined(options.FailureMode))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:FailureMode must be Allow or Deny; it is {options.FailureMode}."));
        }
    }

    public static void Check(List<string> failures, string path, BulkContentFlagOptions? options)
    {
        if (options is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (options.Trips < 0 || options.Trips > 1_000_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Trips must be between 0 (never flag) and 1000000; it is {options.Trips}."));
        }

        if (options.Period <= TimeSpan.Zero || options.Period > RateLimitRule.MaxWindow)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Period must be positive and at most {RateLimitRule.MaxWindow}; it is {options.Period}."));
        }
    }
}
