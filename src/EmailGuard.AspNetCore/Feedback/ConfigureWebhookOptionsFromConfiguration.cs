using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Binds <see cref="EmailGuardWebhookOptions"/> from <c>EmailGuard:Webhooks</c>, refusing unknown keys so that a
/// misspelt secret name fails at startup with the section's path instead of leaving a provider without its key.
/// </summary>
internal sealed class ConfigureWebhookOptionsFromConfiguration(IConfiguration? configuration) : IConfigureOptions<EmailGuardWebhookOptions>
{
    public void Configure(EmailGuardWebhookOptions options)
    {
        if (configuration is null)
        {
            return;
        }

        IConfigurationSection section = configuration.GetSection(EmailGuardWebhookOptions.ConfigurationSectionName);
        try
        {
            section.Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException exception)
        {
            throw new OptionsValidationException(
                Options.DefaultName,
                typeof(EmailGuardWebhookOptions),
                [$"{section.Path}: {exception.Message}"]);
        }
    }
}
