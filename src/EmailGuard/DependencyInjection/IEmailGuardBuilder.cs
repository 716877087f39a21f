using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard;

/// <summary>
/// Returned by <c>AddEmailGuard()</c>; store packages and the ASP.NET Core package extend it
/// (for example <c>.AddRedisStore(...)</c>).
/// </summary>
public interface IEmailGuardBuilder
{
    /// <summary>Gets the services EmailGuard is registered in.</summary>
    IServiceCollection Services { get; }
}
