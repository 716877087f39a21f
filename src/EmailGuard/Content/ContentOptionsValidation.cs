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
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:{StrictConfiguration.ItemKey(categories, i)} is empty; name a category."));
            }
        }
    }

    /// <summary>The most band keys a message may have: each is one more counter per content rule.</summary>
    public const int MaxBands = 16;

    /// <summary>The most MinHash values per band.</summary>
    public const int MaxRowsPerBand = 16;

    public static void Check(List<string> failures, string root, NearDuplicateContentOptions? options, int contentRules)
    {
        string path = $"{root}:NearDuplicate";
        if (options is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (options.Bands < 1 || options.Bands > MaxBands)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Bands must be between 1 and {MaxBands}; it is {options.Bands}."));
        }

        if (options.RowsPerBand < 1 || options.RowsPerBand > MaxRowsPerBand)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:RowsPerBand must be between 1 and {MaxRowsPerBand}; it is {options.RowsPerBand}."));
        }

        if (options.MinWords < NearDuplicateSketch.DefaultShingleWords || options.MinWords > NearDuplicateSketch.MaxShingles)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{path}:MinWords must be between {NearDuplicateSketch.DefaultShingleWords} and {NearDuplicateSketch.MaxShingles}; it is {options.MinWords}."));
        }

        if (options.FooterMarkers is null)
        {
            failures.Add($"{path}:FooterMarkers must not be null.");
        }
        else
        {
            for (int i = 0; i < options.FooterMarkers.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(options.FooterMarkers[i]) || ContentBoilerplate.Compile([options.FooterMarkers[i]]).Length == 0)
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:FooterMarkers:{StrictConfiguration.ItemKey(options.FooterMarkers, i)} has no words; give the phrase that opens the footer."));
                }
            }
        }

        if (options.Enabled && contentRules == 0)
        {
            // The band keys are counted against the content rules; without one, turning it on would silently do nothing.
            failures.Add($"{path}:Enabled is true but {root}:Content has no rules; the band keys are counted against the content rules.");
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

    public static void Check(List<string> failures, string path, FanOutFlagOptions? options)
    {
        if (options is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (options.NewRecipients < 0 || options.NewRecipients > 1_000_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:NewRecipients must be between 0 (never flag) and 1000000; it is {options.NewRecipients}."));
        }

        if (!(options.NewShare >= 0 && options.NewShare <= 1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:NewShare must be between 0 and 1; it is {options.NewShare}."));
        }

        // Whole seconds: the first-seen times are kept in seconds, and windows must align on them.
        if (options.Period < TimeSpan.FromSeconds(1) || options.Period > RateLimitRule.MaxWindow || options.Period.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Period must be whole seconds, at least 1 s and at most {RateLimitRule.MaxWindow}; it is {options.Period}."));
        }

        if (options.Memory < options.Period || options.Memory > RateLimitRule.MaxWindow)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:Memory must be at least Period ({options.Period}) and at most {RateLimitRule.MaxWindow}; it is {options.Memory}."));
        }

        if (options.MaxRecipientsPerMessage < 1 || options.MaxRecipientsPerMessage > 1_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{path}:MaxRecipientsPerMessage must be between 1 and 1000; it is {options.MaxRecipientsPerMessage}."));
        }
    }
}
