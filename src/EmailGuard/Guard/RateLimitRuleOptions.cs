using System.Globalization;

namespace EmailGuard;

/// <summary>
/// A rule as configuration binds it (<c>EmailGuard:SendGuard:Tenant:Rules:0:Limit</c>, <c>Window</c>,
/// <c>Algorithm</c>, <c>Segments</c>). Validated at startup; becomes a <see cref="RateLimitRule"/>.
/// </summary>
public sealed class RateLimitRuleOptions
{
    /// <summary>Gets or sets the permits admitted per window.</summary>
    /// <value>The default value is 0, which fails validation: every rule needs a limit.</value>
    public long Limit { get; set; }

    /// <summary>Gets or sets the window, e.g. <c>01:00:00</c> for an hour or <c>1.00:00:00</c> for a day.</summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Gets or sets how permits are counted.</summary>
    /// <value>The default value is <see cref="RateLimitAlgorithm.FixedWindow"/>.</value>
    public RateLimitAlgorithm Algorithm { get; set; } = RateLimitAlgorithm.FixedWindow;

    /// <summary>Gets or sets the segments of a sliding window; 0 picks the default.</summary>
    /// <value>The default value is 0.</value>
    public int Segments { get; set; }

    /// <summary>Creates options that describe <paramref name="rule"/>.</summary>
    /// <param name="rule">The rule.</param>
    /// <returns>The options.</returns>
    public static RateLimitRuleOptions From(RateLimitRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return new RateLimitRuleOptions
        {
            Limit = rule.Limit,
            Window = rule.Window,
            Algorithm = rule.Algorithm,
            Segments = rule.Algorithm == RateLimitAlgorithm.FixedWindow ? 0 : rule.Segments,
        };
    }

    /// <summary>Builds the rule.</summary>
    /// <returns>The rule.</returns>
    /// <exception cref="ArgumentException">The options do not describe a valid rule.</exception>
    public RateLimitRule ToRule() => new(Limit, Window, Algorithm, Segments);

    /// <summary>Returns why the options do not describe a valid rule, naming the setting, or null when they do.</summary>
    internal string? Validate(string path)
    {
        if (Limit < 1 || Limit > RateLimitRule.MaxLimit)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Limit must be between 1 and {RateLimitRule.MaxLimit}; it is {Limit}.");
        }

        if (Window < TimeSpan.FromMilliseconds(1) || Window > RateLimitRule.MaxWindow || Window.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Window must be a whole number of milliseconds from 00:00:00.001 to {RateLimitRule.MaxWindow}; it is {Window}.");
        }

        if (!Enum.IsDefined(Algorithm))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Algorithm must be FixedWindow or SlidingWindow; it is {Algorithm}.");
        }

        try
        {
            _ = ToRule();
        }
        catch (ArgumentException ex)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Segments is invalid for this window ({Segments}): {ex.Message}");
        }

        return null;
    }
}
