using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Registers an options callback unless the very same callback is registered already, so that running one
/// registration helper twice (two modules, a test fixture) applies its configuration once: adding a policy or a rule
/// twice would fail at startup or count every request twice.
/// </summary>
internal static class ConfigureOnce
{
    public static void Configure<TOptions>(IServiceCollection services, Action<TOptions> configure)
        where TOptions : class
    {
        foreach (ServiceDescriptor descriptor in services)
        {
            if (descriptor.ServiceType == typeof(IConfigureOptions<TOptions>)
                && !descriptor.IsKeyedService
                && descriptor.ImplementationInstance is ConfigureNamedOptions<TOptions> existing
                && existing.Name == Options.DefaultName
                && Equals(existing.Action, configure))
            {
                return;
            }
        }

        services.Configure(configure);
    }
}
