namespace EmailGuard.AspNetCore;

/// <summary>An exact path rule that no endpoint of the app serves, and why (<see cref="PathRuleSet.FindUnserved"/>).</summary>
/// <param name="Rule">The rule as written.</param>
/// <param name="Setting">The settings it was written in, e.g. <c>EmailGuard:Endpoints:PathRules:0</c>.</param>
/// <param name="Reason">What the app serves instead, as a clause.</param>
/// <param name="Suggestion">The rule the operator most likely meant, or <see langword="null"/> when nothing served is close.</param>
internal sealed record UnservedPathRule(string Rule, string Setting, string Reason, string? Suggestion);
