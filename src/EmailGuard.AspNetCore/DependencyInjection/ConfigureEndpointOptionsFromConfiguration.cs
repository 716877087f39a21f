using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Binds <see cref="EmailGuardEndpointOptions"/> from configuration when the app has any; runs before the code
/// configuration so that code can add to what configuration lists.
/// </summary>
internal sealed class ConfigureEndpointOptionsFromConfiguration(IConfiguration? configuration) : IConfigureOptions<EmailGuardEndpointOptions>
{
    public void Configure(EmailGuardEndpointOptions options)
    {
        configuration?.GetSection(EmailGuardEndpointOptions.ConfigurationSectionName).Bind(options);
    }
}
