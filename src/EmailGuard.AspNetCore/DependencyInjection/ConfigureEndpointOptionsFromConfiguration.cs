using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Binds <see cref="EmailGuardEndpointOptions"/> from configuration when the app has any; runs before the code
/// configuration so that code can add to what configuration lists. An unknown key or a malformed value, also in a
/// path rule, is left out and fails the options with the setting's path, beside the validators' failures
/// (<see cref="StrictOptionsFactory{TOptions}"/>); on a reload the middleware then keeps the rules it has.
/// </summary>
internal sealed class ConfigureEndpointOptionsFromConfiguration(IConfiguration? configuration) : IConfigureOptions<EmailGuardEndpointOptions>
{
    public void Configure(EmailGuardEndpointOptions options)
    {
        if (configuration is not null)
        {
            IConfigurationSection section = configuration.GetSection(EmailGuardEndpointOptions.ConfigurationSectionName);
            StrictConfiguration.Bind(section, options);

            // The binder assigns every setting of a defense it creates; which ones configuration set is in its keys.
            foreach (IConfigurationSection policy in section.GetSection(nameof(EmailGuardEndpointOptions.PolicyDefenses)).GetChildren())
            {
                if (options.PolicyDefenses.TryGetValue(policy.Key, out EmailGuardPolicyDefenseOptions? defenses))
                {
                    defenses.MarkConfigured(policy);
                }
            }
        }
    }
}
