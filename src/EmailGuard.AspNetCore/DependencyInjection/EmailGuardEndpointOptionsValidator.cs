using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>Checks the ranges of <see cref="EmailGuardEndpointOptions"/> at startup, naming the setting by its full path.</summary>
internal sealed partial class EmailGuardEndpointOptionsValidator : IValidateOptions<EmailGuardEndpointOptions>
{
    private readonly Attributes _attributes = new();

    // The generated checks name the property alone (MaxBodyBytes: …); startup failures name the full path and the value.
    public ValidateOptionsResult Validate(string? name, EmailGuardEndpointOptions options)
        => EmailGuardConfigurationSections.NameFailures(_attributes.Validate(name, options), EmailGuardEndpointOptions.ConfigurationSectionName, options);

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<EmailGuardEndpointOptions>;
}
