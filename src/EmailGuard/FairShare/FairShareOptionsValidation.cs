using System.Globalization;

namespace EmailGuard;

/// <summary>Checks <see cref="FairShareOptions"/> at startup, naming each setting's full configuration path.</summary>
internal static class FairShareOptionsValidation
{
    /// <summary>The largest weight: a tenant's weight is counted in thousandths, and the window's sum must stay a valid limit.</summary>
    public const double MaxWeight = 10_000;

    /// <summary>The longest refresh interval.</summary>
    public static readonly TimeSpan MaxRefreshInterval = TimeSpan.FromHours(1);

    public static void Check(List<string> failures, string path, FairShareOptions? options, IEnumerable<RateLimitRuleOptions?>? globalRules)
    {
        if (options is null)
        {
            failures.Add($"{path} must not be null.");
            return;
        }

        if (!(options.ContentionThreshold >= 0 && options.ContentionThreshold < 1))
        {
            failures.Add(Format($"{path}:ContentionThreshold must be at least 0 and less than 1 (a fraction of each global limit); it is {options.ContentionThreshold}."));
        }

        if (!(options.MaxWeight > 0 && options.MaxWeight <= MaxWeight))
        {
            failures.Add(Format($"{path}:MaxWeight must be greater than 0 and at most {MaxWeight}; it is {options.MaxWeight}."));
        }

        if (!(options.DefaultWeight > 0 && options.DefaultWeight <= options.MaxWeight))
        {
            failures.Add(Format($"{path}:DefaultWeight must be greater than 0 and at most {path}:MaxWeight ({options.MaxWeight}); it is {options.DefaultWeight}."));
        }

        if (!(options.MaxDefaultWeightTotal >= options.DefaultWeight && options.MaxDefaultWeightTotal <= MaxWeight))
        {
            failures.Add(Format(
                $"{path}:MaxDefaultWeightTotal must be at least {path}:DefaultWeight ({options.DefaultWeight}) and at most {MaxWeight}; it is {options.MaxDefaultWeightTotal}."));
        }

        if (options.RefreshInterval < TimeSpan.Zero || options.RefreshInterval > MaxRefreshInterval)
        {
            failures.Add(Format($"{path}:RefreshInterval must be between 00:00:00 and {MaxRefreshInterval}; it is {options.RefreshInterval}."));
        }

        if (options.Enabled && !(globalRules ?? []).Any(r => r is not null && r.Validate(string.Empty) is null && FairShareTracker.IsShareable(r.ToRule())))
        {
            failures.Add($"{path}:Enabled is true, but EmailGuard:SendGuard:Global:Rules has no fixed or sliding window rule to share; add the provider's limit there.");
        }
    }

    private static string Format(FormattableString message) => message.ToString(CultureInfo.InvariantCulture);
}
