namespace EmailGuard;

/// <summary>
/// The rules of one dimension. A message must fit every rule (for example 100 per hour <em>and</em> 1,000 per day).
/// No rule means the dimension is not limited.
/// </summary>
public sealed class SendGuardDimensionOptions
{
    /// <summary>Gets or sets the rules, bound from <c>...:Rules:0:Limit</c>, <c>...:Rules:0:Window</c> and so on.</summary>
    /// <value>The default value is an empty list.</value>
    public IList<RateLimitRuleOptions> Rules { get; set; } = new List<RateLimitRuleOptions>();

    /// <summary>Adds a rule.</summary>
    /// <param name="rule">The rule.</param>
    /// <returns>These options, to chain further rules.</returns>
    public SendGuardDimensionOptions Add(RateLimitRule rule)
    {
        Rules.Add(RateLimitRuleOptions.From(rule));
        return this;
    }

    /// <summary>Removes every rule.</summary>
    /// <returns>These options.</returns>
    public SendGuardDimensionOptions Clear()
    {
        Rules.Clear();
        return this;
    }
}
