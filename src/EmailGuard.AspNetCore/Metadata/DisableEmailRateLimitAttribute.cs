namespace EmailGuard.AspNetCore;

/// <summary>
/// Exempts an MVC controller, action or endpoint from EmailGuard endpoint policies and path rules, for example one
/// endpoint inside a limited route group.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class DisableEmailRateLimitAttribute : Attribute, IEmailRateLimitMetadata
{
    /// <summary>A shared instance, since the attribute carries no state.</summary>
    internal static readonly DisableEmailRateLimitAttribute Instance = new();

    string? IEmailRateLimitMetadata.PolicyName => null;
}
