using EmailGuard;
using EmailGuard.AspNetCore;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the EmailGuard endpoint middleware to the request pipeline.</summary>
public static class EmailGuardApplicationBuilderExtensions
{
    /// <summary>
    /// Applies EmailGuard endpoint policies and path rules. Call it after <c>UseRouting()</c> (and after
    /// authentication when policies count per user or tenant claim), and after <c>UseForwardedHeaders()</c> behind a
    /// proxy.
    /// </summary>
    /// <param name="app">The application builder.</param>
    /// <returns>The application builder.</returns>
    /// <exception cref="InvalidOperationException"><c>services.AddEmailGuard()</c> was not called.</exception>
    public static IApplicationBuilder UseEmailGuard(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // AddEmailGuard() registers the resilient store; asking whether it is registered creates nothing.
        if (app.ApplicationServices.GetService(typeof(IServiceProviderIsService)) is IServiceProviderIsService isService
            ? !isService.IsService(typeof(IResilientRateLimitStore))
            : app.ApplicationServices.GetService(typeof(IResilientRateLimitStore)) is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required EmailGuard services. Add them by calling 'services.AddEmailGuard()' " +
                "(and '.AddEndpointPolicies(...)' for endpoint policies) in the application startup code.");
        }

        if (app.ApplicationServices.GetService(typeof(EndpointMetrics)) is null)
        {
            throw new InvalidOperationException(
                "Unable to find the EmailGuard endpoint services. Add them by calling " +
                "'services.AddEmailGuard().AddEndpointPolicies(...)' in the application startup code.");
        }

        if (app.ApplicationServices.GetService(typeof(MiddlewareUse)) is MiddlewareUse use)
        {
            use.Used = true;
        }

        return app.UseMiddleware<EmailGuardMiddleware>();
    }
}
