using System.Globalization;

namespace EmailGuard;

/// <summary>
/// A rule as configuration binds it (<c>EmailGuard:SendGuard:Tenant:Rules:0:Limit</c>, <c>Window</c>,
/// <c>Algorithm</c>, <c>Segments</c>, <c>Burst</c>). Validated at startup; becomes a <see cref="RateLimitRule"/>.
/// </summary>
/// <remarks>
/// A <see cref="RateLimitAlgorithm.TokenBucket"/> refills <see cref="Limit"/> permits per <see cref="Window"/> and
/// holds at most <see cref="Burst"/> (the limit when 0): SES's maximum send rate of 14 per second is
/// <c>{ "Algorithm": "TokenBucket", "Limit": 14, "Window": "00:00:01" }</c>.
/// </remarks>
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

    /// <summary>
    /// Gets or sets the burst of a <see cref="RateLimitAlgorithm.TokenBucket"/>: the most permits it holds, and so
    /// admits at one instant; 0 uses <see cref="Limit"/>. Must be 0 for the window algorithms.
    /// </summary>
    /// <value>The default value is 0.</value>
    public long Burst { get; set; }

    /// <summary>Creates options that describe <paramref name="rule"/>.</summary>
    /// <param name="rule">The rule.</param>
    /// <returns>The options.</returns>
    public static RateLimitRuleOptions From(RateLimitRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        return new RateLimitRuleOptions
        {
            Limit = rule.Rate,
            Window = rule.Window,
            Algorithm = rule.Algorithm,
            Segments = rule.Algorithm == RateLimitAlgorithm.SlidingWindow ? rule.Segments : 0,
            Burst = rule.Algorithm == RateLimitAlgorithm.TokenBucket && rule.Limit != rule.Rate ? rule.Limit : 0,
        };
    }

    /// <summary>Builds the rule.</summary>
    /// <returns>The rule.</returns>
    /// <exception cref="ArgumentException">The options do not describe a valid rule.</exception>
    public RateLimitRule ToRule() => Algorithm == RateLimitAlgorithm.TokenBucket && Burst != 0
        ? RateLimitRule.TokenBucket(Limit, Window, Burst)
        : new(Limit, Window, Algorithm, Segments);

    /// <summary>Returns why the options do not describe a valid rule, naming the setting, or null when they do.</summary>
    /// <param name="path">The configuration path of these options, such as <c>EmailGuard:Endpoints:PathRules:0</c>; each message starts with it and the setting's name.</param>
    /// <returns>One sentence naming the first invalid setting and its value, or <see langword="null"/> when <see cref="ToRule"/> succeeds.</returns>
    /// <remarks>Other packages that bind a rule from configuration call this, so that every startup failure about a rule reads the same.</remarks>
    public string? Validate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
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
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Algorithm must be FixedWindow, SlidingWindow or TokenBucket; it is {Algorithm}.");
        }

        if (Burst != 0 && Algorithm != RateLimitAlgorithm.TokenBucket)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Burst applies to a TokenBucket only; it is {Burst} on a {Algorithm}.");
        }

        if (Burst < 0 || Burst > RateLimitRule.MaxLimit)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Burst must be 0 (the limit) or between 1 and {RateLimitRule.MaxLimit}; it is {Burst}.");
        }

        if (Algorithm != RateLimitAlgorithm.SlidingWindow && Segments > 1)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}:Segments applies to a SlidingWindow only; it is {Segments} on a {Algorithm}.");
        }

        // Checked here rather than left to RateLimitRule's constructor, whose ArgumentException text names a parameter
        // ("(Parameter 'segments')", "Actual value was -1.") over two lines instead of the setting.
        if (Segments < 0 || Segments > RateLimitRule.MaxSegments)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{path}:Segments must be 0 (a default that divides the window) or between 1 and {RateLimitRule.MaxSegments}; it is {Segments}.");
        }

        long windowMs = Window.Ticks / TimeSpan.TicksPerMillisecond;
        if (Algorithm == RateLimitAlgorithm.SlidingWindow && Segments > 0 && windowMs % Segments != 0)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{path}:Segments must divide the window of {windowMs} ms into whole milliseconds; it is {Segments}.");
        }

        try
        {
            _ = ToRule();
        }
        catch (ArgumentException) when (Algorithm == RateLimitAlgorithm.TokenBucket && Burst != 0)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{path}:Burst is too large for this rate: at {Limit} per {Window}, a bucket of {Burst} would take longer than {2 * RateLimitRule.MaxWindow.TotalDays} days to refill; it is {Burst}.");
        }
        catch (ArgumentException)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{path} is not a valid rule: {Limit} per {Window}, {Algorithm} with {Segments} segments cannot be built.");
        }

        return null;
    }
}
