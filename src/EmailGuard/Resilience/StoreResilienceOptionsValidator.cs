using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Checks <see cref="StoreResilienceOptions"/> at startup, naming the setting that is out of range by its full path.</summary>
internal sealed partial class StoreResilienceOptionsValidator : IValidateOptions<StoreResilienceOptions>
{
    private readonly Attributes _attributes = new();

    public ValidateOptionsResult Validate(string? name, StoreResilienceOptions options)
        => EmailGuardConfigurationSections.NameFailures(_attributes.Validate(name, options), $"{EmailGuardServiceCollectionExtensions.ConfigurationSectionName}:Resilience", options);

    /// <summary>The checks of the options' validation attributes, generated.</summary>
    [OptionsValidator]
    private sealed partial class Attributes : IValidateOptions<StoreResilienceOptions>;
}
