using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks the ranges of <see cref="SendGuardOptions"/>' scalar settings at startup, naming the setting by its full path.</summary>
internal sealed partial class SendGuardOptionsDataValidator : IValidateOptions<SendGuardOptions>
{
    private readonly Attributes _attributes = new();

    public ValidateOptionsResult Validate(string? name, SendGuardOptions options)
        => EmailGuardConfigurationSections.NameFailures(_attributes.Validate(name, options), SendGuardOptions.ConfigurationSectionName, options);

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<SendGuardOptions>;
}
